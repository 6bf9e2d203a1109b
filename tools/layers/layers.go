// Package layers holds the layering of this module's packages: which
// package may import which (Rules), checked against what `go list`
// reports (Check), and the package map of docs/architecture.md generated
// from the same facts (Doc), so that neither the rules nor the picture
// drift from the code. It is a test helper: nothing of the server
// imports it.
package layers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
)

// Module is the path of this module; imports under it are the ones the
// rules govern.
const Module = "github.com/authserver/authserver"

// Rules says, per package (a path relative to Module, or a pattern ending
// in "/..." for a package and everything under it), which packages of the
// module its non-test code may import, in the same notation. The most
// specific key applies. Within the domain (authserver/...) each package
// names its imports one by one: they run one way, down the layers of
// docs/architecture.md. Third-party and standard packages are not
// governed here.
var Rules = map[string][]string{
	// Layer 1: no domain imports.
	"authserver":            {"storage"},
	"authserver/credential": nil,
	"authserver/kek":        {"storage"},
	"authserver/periodic":   nil,
	// Layer 2.
	"authserver/audit":       {"authserver", "authserver/credential", "authserver/periodic", "storage"},
	"authserver/idempotency": {"authserver", "authserver/credential", "authserver/periodic", "storage"},
	"authserver/clients":     {"authserver", "authserver/credential", "authserver/periodic", "storage", "verifier"},
	// Layer 3.
	"authserver/signingkeys": {"authserver", "authserver/audit", "authserver/kek", "authserver/periodic", "storage"},
	"authserver/accounts":    {"authserver", "authserver/audit", "authserver/credential", "authserver/idempotency", "authserver/periodic", "storage"},
	"authserver/users":       {"authserver", "authserver/audit", "authserver/clients", "authserver/credential", "authserver/kek", "storage"},
	// Layer 4.
	"authserver/assertion": {"authserver", "authserver/clients", "authserver/credential", "authserver/kek", "authserver/periodic", "authserver/users", "storage", "verifier"},
	// Layer 5.
	"authserver/apps":       {"authserver", "authserver/assertion", "authserver/audit", "authserver/clients", "authserver/credential", "authserver/idempotency", "authserver/kek", "storage"},
	"authserver/clientauth": {"authserver", "authserver/assertion", "authserver/clients", "authserver/credential"},
	"authserver/limits":     {"authserver", "authserver/assertion", "authserver/credential", "authserver/users"},
	// Layer 6.
	"authserver/tokens": {"authserver", "authserver/assertion", "authserver/clientauth", "authserver/clients", "authserver/credential", "authserver/limits", "authserver/periodic", "authserver/signingkeys", "authserver/users", "storage", "verifier/dpop"},

	// Above the domain: HTTP, pages, metrics, wiring, the command.
	"handlers":     {"adminapi", "authserver/...", "httpform", "verifier", "verifier/dpop"},
	"httpform":     nil,
	"console":      {"authserver/...", "httpform", "storage"},
	"metrics":      {"storage"},
	"server":       {"authserver/...", "console", "handlers", "metrics", "storage", "storage/embedded", "storage/mongodb", "verifier", "verifier/dpop"},
	"cmd/...":      {"adminapi/client", "authserver/...", "server", "verifier/dpop"},
	"adminapi":     nil,
	"adminapi/...": {"adminapi"},

	// Below the domain.
	// The contract imports nothing; of its implementations only the
	// server may import them (the domain sees the contract alone).
	"storage":             nil,
	"storage/mongodb":     {"storage"},
	"storage/embedded":    nil,
	"storage/storagetest": {"storage", "storage/embedded", "storage/mongodb"},
	"verifier/...":        {"verifier/..."},

	// Test and development code.
	"test/...":  {"..."},
	"tools/...": nil,
}

// Package is what `go list` says of one package of the module.
type Package struct {
	// Path is the import path relative to Module ("authserver/tokens").
	Path string
	// Doc is the package doc's first sentence.
	Doc string
	// Imports are the module's packages its non-test code imports,
	// relative to Module, sorted.
	Imports []string
}

// Load lists the module's packages with `go list -json ./...`, run in dir
// (the module root).
func Load(dir string) ([]Package, error) {
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p struct {
			ImportPath string
			Doc        string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("decode go list: %w", err)
		}
		pkg := Package{Path: rel(p.ImportPath), Doc: p.Doc}
		if pkg.Path == "" {
			continue // outside the module
		}
		for _, imp := range p.Imports {
			if r := rel(imp); r != "" {
				pkg.Imports = append(pkg.Imports, r)
			}
		}
		sort.Strings(pkg.Imports)
		pkgs = append(pkgs, pkg)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Path < pkgs[j].Path })
	return pkgs, nil
}

// rel returns path relative to Module, or "" if it is not under it.
func rel(path string) string {
	if r, ok := strings.CutPrefix(path, Module+"/"); ok {
		return r
	}
	return ""
}

// match reports whether path is matched by pattern: equal, or under a
// pattern ending in "/..." ("..." alone matches everything).
func match(pattern, path string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return pattern == path
}

// RuleFor returns the key of Rules that governs path (the exact key, else
// the longest matching "/..." key) and its allowed imports; ok is false
// when no rule applies.
func RuleFor(path string) (key string, allowed []string, ok bool) {
	if a, ok := Rules[path]; ok {
		return path, a, true
	}
	best := ""
	for k := range Rules {
		if strings.HasSuffix(k, "/...") && match(k, path) && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return "", nil, false
	}
	return best, Rules[best], true
}

// Check returns one error per package without a rule and per import its
// rule does not allow.
func Check(pkgs []Package) []error {
	var errs []error
	for _, p := range pkgs {
		key, allowed, ok := RuleFor(p.Path)
		if !ok {
			errs = append(errs, fmt.Errorf("%s has no rule in layers.Rules: say which packages it may import", p.Path))
			continue
		}
		for _, imp := range p.Imports {
			if imp == p.Path {
				continue
			}
			if !slices.ContainsFunc(allowed, func(a string) bool { return match(a, imp) }) {
				errs = append(errs, fmt.Errorf("%s imports %s, which its rule (%q: %v) does not allow", p.Path, imp, key, allowed))
			}
		}
	}
	return errs
}
