"""Distributed data-parallel training under `torchrun` (gloo on CPU, nccl on CUDA).

`torchrun --nproc_per_node N -m fer_audit.cli train ...` starts N processes; each
trains on its share of every epoch's batches, DistributedDataParallel averages the
gradients, and only rank 0 writes the run folder. At the end the ranks compare a
checksum of their parameters: they must agree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str) -> tuple[DistContext, str]:
    """Join the process group when started by torchrun; the context and this rank's
    device (cuda:<local rank> on GPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(), device
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return DistContext(rank, world, local), device


def wrap(model: torch.nn.Module, context: DistContext, device: str) -> torch.nn.Module:
    if not context.enabled:
        return model
    ids = [int(device.split(":")[1])] if device.startswith("cuda:") else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def shard(order, context: DistContext):
    """This rank's part of an epoch's order, every rank the same length (the order is
    padded by wrapping around, as DistributedSampler does)."""
    if not context.enabled:
        return order
    import numpy as np

    per_rank = -(-len(order) // context.world)
    return np.resize(order, per_rank * context.world)[context.rank :: context.world]


def reduce_sum(value: float, context: DistContext) -> float:
    if not context.enabled:
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor)
    return float(tensor)


def parameters_agree(model: torch.nn.Module, context: DistContext) -> bool:
    """True when every rank holds the same parameters (checksums gathered)."""
    if not context.enabled:
        return True
    checksum = torch.tensor(
        [sum(float(p.detach().double().sum().cpu()) for p in model.parameters())],
        dtype=torch.float64,
    )
    gathered = [torch.zeros(1, dtype=torch.float64) for _ in range(context.world)]
    dist.all_gather(gathered, checksum)
    return all(torch.equal(g, gathered[0]) for g in gathered)


def teardown(context: DistContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
