"""What Pulumi runs for `--policy-pack policies` (`python -m pulumi.policy <engine> policies`, cwd = this
directory, which is what is on sys.path). It only assembles the pack; never import it: creating the
`PolicyPack` starts the analyzer server and blocks. The rules live in the importable `policies` package.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies.pack import serve  # noqa: E402  (needs the repository root on sys.path first)

serve()
