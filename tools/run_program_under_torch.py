"""Records the PyTorch reference of each program in tests/programs/ (its final metric and wall time)
into tests/programs/reference.json; with --cltensor, also runs each under cltensor and prints the
table of both (the table in docs/testing.md comes from here).

    python3 tools/run_program_under_torch.py                 # record every program under PyTorch
    python3 tools/run_program_under_torch.py --cltensor gpt  # names are substrings; compare both
"""
import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "programs"))
import catalog  # noqa: E402


def run_once(program, under_cltensor):
    """(metric or None, seconds, tail of stderr) of one run in a fresh folder."""
    with tempfile.TemporaryDirectory() as work:
        catalog.prepare(program, work)
        out, err, rc, seconds = catalog.run(program, work, under_cltensor, timeout=600)
    got = catalog.metric(program, out) if rc == 0 else None
    return got, seconds, err.strip().splitlines()[-1:] if rc else []


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="substrings of program names (default: all)")
    parser.add_argument("--cltensor", action="store_true", help="also run under cltensor and compare")
    parser.add_argument("--no-record", action="store_true", help="do not write reference.json")
    args = parser.parse_args(argv)
    refs = json.load(open(catalog.REFERENCE)) if os.path.exists(catalog.REFERENCE) else {}
    rows = []
    for program in catalog.PROGRAMS:
        if args.names and not any(n in program.name for n in args.names):
            continue
        got, seconds, err = run_once(program, under_cltensor=False)
        if got is None:
            print(f"{program.name}: PyTorch run failed {err}", file=sys.stderr)
            continue
        refs[program.name] = {"metric": got, "seconds": round(seconds, 1)}
        row = [program.name, got, round(seconds, 1)]
        if args.cltensor:
            cl_got, cl_seconds, cl_err = run_once(program, under_cltensor=True)
            verdict = catalog.judge(program, cl_got, got) if cl_got is not None else f"failed {cl_err}"
            row += [cl_got, round(cl_seconds, 1), verdict or "ok"]
        rows.append(row)
        print(" | ".join(str(c) for c in row), flush=True)
    if not args.no_record:
        with open(catalog.REFERENCE, "w") as f:
            json.dump(refs, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
