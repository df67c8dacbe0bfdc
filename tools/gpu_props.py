"""Print every OpenCL platform and device with the properties cltensor reads or depends on
(tools/gpu_run.sh's first look at a new driver): versions, limits, floating-point support,
atomics, vector widths, and whether the compiler takes the options cltensor builds with."""
from __future__ import annotations

import pyopencl as cl

ATTRS = ("version", "driver_version", "opencl_c_version", "max_compute_units", "max_clock_frequency",
         "global_mem_size", "max_mem_alloc_size", "local_mem_size", "local_mem_type", "max_constant_buffer_size",
         "max_work_group_size", "max_work_item_sizes", "mem_base_addr_align", "preferred_vector_width_float",
         "preferred_vector_width_half", "native_vector_width_float", "host_unified_memory",
         "profiling_timer_resolution", "image_support", "atomic_memory_capabilities", "address_bits")
FP_CONFIG = {1: "denorm", 2: "inf_nan", 4: "round_nearest", 8: "round_zero", 16: "round_inf", 32: "fma",
             64: "soft_float", 128: "correctly_rounded_divide_sqrt"}
PROBE = "__kernel void probe(__global float *x) { x[get_global_id(0)] *= 2.0f; }"


def fp_flags(value) -> str:
    return ",".join(name for bit, name in FP_CONFIG.items() if value & bit) or "none"


def show(d) -> None:
    print(f"  device: {d.name.strip()} | type {cl.device_type.to_string(d.type)} | {d.vendor.strip()}")
    for attr in ATTRS:
        try:
            print(f"    {attr}: {getattr(d, attr)}")
        except (cl.Error, AttributeError) as err:
            print(f"    {attr}: unavailable ({type(err).__name__})")
    print(f"    single_fp_config: {fp_flags(d.single_fp_config)}")
    for name in ("double_fp_config", "half_fp_config"):
        try:
            print(f"    {name}: {fp_flags(getattr(d, name))}")
        except (cl.Error, AttributeError):
            print(f"    {name}: unavailable")
    try:
        print("    opencl_c_all_versions:", ", ".join(f"{v.version >> 22}.{(v.version >> 12) & 0x3FF}"
                                                   for v in d.opencl_c_all_versions))
        print("    opencl_c_features:", " ".join(f.name for f in d.opencl_c_features))
    except (cl.Error, AttributeError):
        pass
    print("    extensions:", " ".join(sorted(d.extensions.split())))
    ctx = cl.Context([d])
    for options in (["-cl-std=CL1.2"], ["-cl-std=CL1.2", "-cl-fast-relaxed-math"]):
        try:
            cl.Program(ctx, PROBE).build(options=options)
            print(f"    builds with {' '.join(options)}: yes")
        except cl.Error as err:
            print(f"    builds with {' '.join(options)}: NO ({str(err).splitlines()[0][:200]})")


def main() -> None:
    for p in cl.get_platforms():
        print(f"platform: {p.name.strip()} | {p.version.strip()} | {p.vendor.strip()}")
        for d in p.get_devices():
            show(d)


if __name__ == "__main__":
    main()
