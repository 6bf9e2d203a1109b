package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/authserver/authserver/server"
)

func flagSet(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addConfigFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse flags: %v", err)
	}
	return fs
}

// The documented config file states exactly the built-in defaults, and
// documents every option.
func TestConfigFileMatchesDefaults(t *testing.T) {
	cfg, warnings, err := loadConfig(flagSet(t, "--config", "../../configs/authserver.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Fatalf("warnings: %v", warnings)
	}
	if want := server.DefaultConfig(); !reflect.DeepEqual(cfg, want) {
		t.Fatalf("configs/authserver.yaml differs from DefaultConfig():\n file: %+v\n code: %+v", cfg, want)
	}
}

func TestConfigFileDocumentsEveryOption(t *testing.T) {
	k := koanf.New(".")
	if err := k.Load(file.Provider("../../configs/authserver.yaml"), yaml.Parser()); err != nil {
		t.Fatal(err)
	}
	for _, key := range configKeys() {
		if !k.Exists(key) {
			t.Errorf("configs/authserver.yaml does not document %q", key)
		}
	}
}

func TestConfigPrecedence(t *testing.T) {
	environ := []string{
		"AUTHSERVER_DATA_DIR=/from/env",
		"AUTHSERVER_PUBLIC_ADDR=127.0.0.1:1111",
		"AUTHSERVER_CACHE_REFRESH_INTERVAL=7s",
		"AUTHSERVER_KEK_PREVIOUS=a, b",
		"AUTHSERVER_DPOP_ALGORITHMS=ES256, EdDSA",
		"AUTHSERVER_ADMIN_URL=http://ignored",
		"AUTHSERVER_TYPO=1",
	}
	cfg, warnings, err := loadConfig(flagSet(t, "--config", "../../configs/authserver.yaml", "--public-addr", "127.0.0.1:2222"), environ)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/from/env" {
		t.Errorf("env did not override the file: data_dir = %q", cfg.DataDir)
	}
	if cfg.Public.Addr != "127.0.0.1:2222" {
		t.Errorf("flag did not override env: public.addr = %q", cfg.Public.Addr)
	}
	if cfg.Cache.RefreshInterval != 7*time.Second {
		t.Errorf("cache.refresh_interval = %v", cfg.Cache.RefreshInterval)
	}
	if !reflect.DeepEqual(cfg.KEKPrevious, []string{"a", "b"}) {
		t.Errorf("kek_previous = %q", cfg.KEKPrevious)
	}
	if !reflect.DeepEqual(cfg.DPoP.Algorithms, []string{"ES256", "EdDSA"}) {
		t.Errorf("dpop.algorithms = %q", cfg.DPoP.Algorithms)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "AUTHSERVER_TYPO") {
		t.Errorf("warnings = %v, want one about AUTHSERVER_TYPO", warnings)
	}
}

func TestConfigRejects(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
	}{
		{"missing explicit file", []string{"--config", "does-not-exist.yaml"}, nil},
		{"bad duration", []string{"--cache-refresh-interval", "soon"}, nil},
		{"bad number", nil, []string{"AUTHSERVER_CACHE_APPS=many"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := loadConfig(flagSet(t, tc.args...), tc.environ); err == nil {
				t.Fatal("loadConfig accepted it")
			}
		})
	}
}
