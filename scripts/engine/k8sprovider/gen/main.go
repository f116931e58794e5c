// Writes schema-embed.json and terraform-mapping-embed.json for the kubernetes provider build.
//
//	go run ./gen <provider cmd dir> <version> <out dir>
//
// <provider cmd dir> is cmd/pulumi-resource-kubernetes inside the provider/v4 module (module
// cache, read only). The schema is round-tripped through schema.PackageSpec with .Version set,
// the terraform mapping is re-marshalled compactly, both as the upstream build expects.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "k8sprovider/gen: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: gen <provider cmd dir> <version> <out dir>")
	}
	src, version, out := os.Args[1], os.Args[2], os.Args[3]

	raw, err := os.ReadFile(filepath.Join(src, "schema.json"))
	if err != nil {
		fail("%v", err)
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		fail("decoding schema: %v", err)
	}
	spec.Version = version
	b, err := json.Marshal(spec)
	if err != nil {
		fail("encoding schema: %v", err)
	}
	if err := os.WriteFile(filepath.Join(out, "schema-embed.json"), b, 0o644); err != nil {
		fail("%v", err)
	}

	raw, err = os.ReadFile(filepath.Join(src, "terraform-mapping.json"))
	if err != nil {
		fail("%v", err)
	}
	var mapping any
	if err := json.Unmarshal(raw, &mapping); err != nil {
		fail("decoding terraform mapping: %v", err)
	}
	if b, err = json.Marshal(mapping); err != nil {
		fail("encoding terraform mapping: %v", err)
	}
	if err := os.WriteFile(filepath.Join(out, "terraform-mapping-embed.json"), b, 0o644); err != nil {
		fail("%v", err)
	}
	fmt.Printf("k8sprovider/gen: wrote embeds for version %s\n", version)
}
