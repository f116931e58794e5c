"""The cluster's network: a VPC with a public and a private subnet per availability zone.

Nodes and the control plane's network interfaces live in the private subnets and reach the internet
through one NAT gateway per zone (a zone outage then costs only that zone's egress, and traffic never
crosses zones to reach a NAT). The public subnets hold the NAT gateways and internet-facing load balancers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.cluster.plan import subnet_plan, subnet_tags


@dataclass(frozen=True)
class VpcArgs:
    eks_cluster_name: str
    """Physical EKS cluster name, for the `kubernetes.io/cluster/<name>` subnet tags."""
    cidr: str
    availability_zones: int
    """How many zones (the first N available, non-opt-in zones of the region); EKS needs at least two."""


class Vpc(pulumi.ComponentResource):
    """VPC, internet gateway, per-zone public and private subnets, NAT gateways and route tables.

    The AWS provider comes in through `opts` (providers) and reaches every child by parenting.
    """

    vpc: aws.ec2.Vpc
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: VpcArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:cluster:Vpc", name, None, opts)
        plan = subnet_plan(args.cidr, args.availability_zones)
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).names

        def tags(suffix: str, extra: dict[str, str] | None = None) -> dict[str, str]:
            return {"Name": f"{args.eks_cluster_name}-{suffix}", **(extra or {})}

        self.vpc = aws.ec2.Vpc(
            f"{name}",
            cidr_block=args.cidr,
            # Both are required for the private API endpoint: nodes resolve it through the VPC's DNS.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tags("vpc"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags=tags("igw"), opts=pulumi.ResourceOptions(parent=self)
        )
        public_routes = aws.ec2.RouteTable(
            f"{name}-public", vpc_id=self.vpc.id, tags=tags("public"), opts=pulumi.ResourceOptions(parent=self)
        )
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_routes.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=gateway.id,
            opts=pulumi.ResourceOptions(parent=self),
        )

        private_ids: list[pulumi.Output[str]] = []
        public_ids: list[pulumi.Output[str]] = []
        for index, (private_cidr, public_cidr) in enumerate(zip(plan.private, plan.public, strict=True)):
            zone_key = f"zone{index + 1}"
            zone = zones.apply(lambda names, i=index: _zone(names, i, args.availability_zones))
            public = aws.ec2.Subnet(
                f"{name}-public-{zone_key}",
                vpc_id=self.vpc.id,
                cidr_block=public_cidr,
                availability_zone=zone,
                tags=tags(f"public-{zone_key}", subnet_tags(args.eks_cluster_name, public=True)),
                opts=pulumi.ResourceOptions(parent=self),
            )
            private = aws.ec2.Subnet(
                f"{name}-private-{zone_key}",
                vpc_id=self.vpc.id,
                cidr_block=private_cidr,
                availability_zone=zone,
                tags=tags(f"private-{zone_key}", subnet_tags(args.eks_cluster_name, public=False)),
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone_key}",
                subnet_id=public.id,
                route_table_id=public_routes.id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            address = aws.ec2.Eip(
                f"{name}-nat-{zone_key}", domain="vpc", tags=tags(f"nat-{zone_key}"),
                opts=pulumi.ResourceOptions(parent=self),
            )
            nat = aws.ec2.NatGateway(
                f"{name}-{zone_key}",
                subnet_id=public.id,
                allocation_id=address.id,
                tags=tags(f"nat-{zone_key}"),
                # A NAT gateway needs the VPC's internet gateway attached before it can route (AWS docs).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
            )
            private_routes = aws.ec2.RouteTable(
                f"{name}-private-{zone_key}",
                vpc_id=self.vpc.id,
                tags=tags(f"private-{zone_key}"),
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.ec2.Route(
                f"{name}-private-{zone_key}-default",
                route_table_id=private_routes.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat.id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone_key}",
                subnet_id=private.id,
                route_table_id=private_routes.id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            private_ids.append(private.id)
            public_ids.append(public.id)

        self.private_subnet_ids = pulumi.Output.all(*private_ids)  # type: ignore[assignment]
        self.public_subnet_ids = pulumi.Output.all(*public_ids)  # type: ignore[assignment]
        self.register_outputs({
            "vpc_id": self.vpc.id,
            "private_subnet_ids": self.private_subnet_ids,
            "public_subnet_ids": self.public_subnet_ids,
        })


def _zone(names: list[str], index: int, wanted: int) -> str:
    if len(names) < wanted:
        raise ValueError(
            f"cluster.eks.vpc.availability_zones: {wanted} zones requested, the region offers {len(names)} "
            f"({', '.join(names)})"
        )
    return names[index]
