package layers

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the package map of docs/architecture.md")

// root is the module root, two directories up.
const root = "../.."

// Every package of the module has a rule, and imports only what its rule
// allows: a new package, or an import against the layers, fails here.
func TestLayering(t *testing.T) {
	pkgs, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages: the test looks in the wrong place", len(pkgs))
	}
	for _, err := range Check(pkgs) {
		t.Error(err)
	}
}

// The rules refuse what breaks the layers, whatever the code does today.
func TestCheckRefuses(t *testing.T) {
	tests := []struct {
		name string
		pkg  Package
		ok   bool
	}{
		{"a domain package importing one below", Package{Path: "authserver/tokens", Imports: []string{"authserver/signingkeys"}}, true},
		{"a domain package importing one above", Package{Path: "authserver/clients", Imports: []string{"authserver/tokens"}}, false},
		{"the domain importing HTTP", Package{Path: "authserver/tokens", Imports: []string{"handlers"}}, false},
		{"a layer-1 package importing the root", Package{Path: "authserver/credential", Imports: []string{"authserver"}}, false},
		{"handlers importing the wiring", Package{Path: "handlers", Imports: []string{"server"}}, false},
		{"the binary's code importing a test helper", Package{Path: "server", Imports: []string{"storage/storagetest"}}, false},
		{"the verifier importing the server", Package{Path: "verifier", Imports: []string{"storage"}}, false},
		{"a package without a rule", Package{Path: "newpkg"}, false},
		{"tests importing anything", Package{Path: "test/testserver", Imports: []string{"server", "storage/storagetest"}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if errs := Check([]Package{tc.pkg}); (len(errs) == 0) != tc.ok {
				t.Fatalf("errors %v, want ok=%v", errs, tc.ok)
			}
		})
	}
}

// docs/architecture.md's package map is what the code says; run
// `go test ./tools/layers -update` after changing packages or imports.
func TestArchitectureDocIsCurrent(t *testing.T) {
	pkgs, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "docs", "architecture.md")
	md, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Replace(string(md), Doc(pkgs))
	if err != nil {
		t.Fatal(err)
	}
	if want == string(md) {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("docs/architecture.md's package map is out of date: run go test ./tools/layers -update")
}
