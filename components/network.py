"""VPC subnet layout: a pure function, shared by spec validation (a CIDR too small is a spec error) and
the cluster component (which creates the subnets)."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SubnetPlan:
    """CIDRs per availability zone, in zone order."""

    private: tuple[str, ...]
    public: tuple[str, ...]


def subnet_plan(cidr: str, zones: int) -> SubnetPlan:
    """Carve the VPC: large private subnets for nodes and pods, small public ones for NAT and load balancers.

    The first half of the VPC is split evenly among the zones' private subnets (the VPC CNI gives every
    pod a VPC address, so these must be big); the second half holds public subnets 8 times smaller.
    A /16 with three zones gives private /19s (8k addresses) and public /22s.
    """
    network = ipaddress.ip_network(cidr)
    zone_bits = math.ceil(math.log2(zones)) if zones > 1 else 0
    private_prefix = network.prefixlen + 1 + zone_bits
    public_prefix = private_prefix + 3
    if public_prefix > 28:
        raise ValueError(
            f"cluster.eks.vpc.cidr: {cidr} is too small for {zones} zones (public subnets would be "
            f"/{public_prefix}; AWS allows at most /28)"
        )
    private_half, public_half = network.subnets(prefixlen_diff=1)
    private = list(private_half.subnets(new_prefix=private_prefix))[:zones]
    public = list(public_half.subnets(new_prefix=public_prefix))[:zones]
    return SubnetPlan(private=tuple(map(str, private)), public=tuple(map(str, public)))


