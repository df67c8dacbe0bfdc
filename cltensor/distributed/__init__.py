"""``torch.distributed``: a stub until cltensor's MPI-backed process groups exist.

``is_available()`` is False, so scripts that check it take their single-process path.
"""

__all__ = ["is_available", "is_initialized", "init_process_group", "get_rank", "get_world_size"]


def is_available() -> bool:
    return False


def is_initialized() -> bool:
    return False


def init_process_group(*args, **kwargs):
    raise RuntimeError("torch.distributed is not available in cltensor yet: init_process_group cannot start a "
                       "process group (torch.distributed.is_available() is False); run one process per script")


def _not_initialized(*args, **kwargs):
    raise ValueError("Default process group has not been initialized, please make sure to call init_process_group.")


get_rank = get_world_size = barrier = all_reduce = broadcast = destroy_process_group = _not_initialized
