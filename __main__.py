"""gpuplat: load and validate the environment's spec, then compose cluster, add-ons and workloads.

Nothing is registered until the whole spec has validated; a bad spec ends the run with every problem
listed (file, path, reason) and no traceback.
"""

import pulumi

from components.addons import PlatformAddons, PlatformAddonsArgs
from components.cluster import create_cluster
from components.gc_policy import freeze_survivors_of_full_collections
from components.skip_await import register_skip_await
from components.spec import SpecError
from components.stack_config import load_stack_platform
from components.workloads import Workloads, WorkloadsArgs

freeze_survivors_of_full_collections()  # a large stack's heap is long-lived; see components/gc_policy.py
try:
    platform = load_stack_platform()
except SpecError as error:
    raise pulumi.RunError(f"the platform spec is invalid:\n{error}") from None

register_skip_await(platform.settings.skip_await)
cluster = create_cluster("gpuplat", platform)
addons = PlatformAddons(
    "platform",
    PlatformAddonsArgs(platform=platform),
    opts=pulumi.ResourceOptions(providers=cluster.providers),
)
workloads = Workloads(
    "workloads",
    WorkloadsArgs(platform=platform, identity=cluster.workload_identity, ready=addons.ready),
    opts=pulumi.ResourceOptions(providers=cluster.providers),
)

pulumi.export("environment", platform.settings.environment)
pulumi.export("cluster_mode", platform.spec.cluster.mode)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("node_pools", {name: pool.max_nodes for name, pool in platform.spec.node_pools.items()})
pulumi.export("model_endpoints", workloads.endpoints)
