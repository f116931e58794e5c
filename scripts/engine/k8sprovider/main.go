// gpuplat's entry point for pulumi-resource-kubernetes, built in a throwaway wrapper module by
// scripts/install-engine against github.com/pulumi/pulumi-kubernetes/provider/v4.
//
// The upstream command embeds two generated (git-ignored, hence not in the module zip) files;
// scripts/engine/k8sprovider/gen writes them next to this file before the build.
// Serve's signature is the one of provider/v4 at the v4.25.0 release commit (no helm mapping
// argument; later releases added one).
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
