package main

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/authserver/authserver/server"
)

// envPrefix starts every environment variable of the server config.
const envPrefix = "AUTHSERVER_"

// defaultConfigPath is read when present; --config names another file,
// which must then exist.
const defaultConfigPath = "configs/authserver.yaml"

// clientEnv are AUTHSERVER_* variables of the CLI client, not of the config.
var clientEnv = map[string]bool{
	"AUTHSERVER_ADMIN_URL": true, "AUTHSERVER_ADMIN_KEY": true, "AUTHSERVER_ADMIN_KEY_FILE": true,
	"AUTHSERVER_TOKEN_URL": true, "AUTHSERVER_TEST_MONGODB_URI": true,
	"AUTHSERVER_USER_PASSWORD": true, "AUTHSERVER_CUSTOMER_AUTH_URL": true,
}

// listKeys are the options whose value is a list: comma-separated in a
// variable or a flag.
var listKeys = map[string]bool{"kek_previous": true, "dpop.algorithms": true}

// configKeys returns every option's key ("public.addr", "data_dir", ...).
func configKeys() []string {
	k := koanf.New(".")
	_ = k.Load(structs.Provider(server.DefaultConfig(), "koanf"), nil)
	keys := k.Keys()
	sort.Strings(keys)
	return keys
}

// flagName turns a key into its flag: "public.addr" -> "public-addr".
func flagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// envName turns a key into its variable: "public.addr" -> AUTHSERVER_PUBLIC_ADDR.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// addConfigFlags defines one flag per option, named after its key.
func addConfigFlags(fs *pflag.FlagSet) {
	fs.String("config", defaultConfigPath, "configuration file (YAML); options are overridden by AUTHSERVER_* variables, then by flags")
	for _, key := range configKeys() {
		fs.String(flagName(key), "", fmt.Sprintf("%s (env %s; see configs/authserver.yaml)", key, envName(key)))
	}
}

// loadConfig merges, lowest precedence first: defaults, the config file,
// AUTHSERVER_* environment variables, flags that were set. Unknown keys in
// the file are errors; unknown AUTHSERVER_* variables are reported in
// warnings.
func loadConfig(flags *pflag.FlagSet, environ []string) (server.Config, []string, error) {
	var warnings []string
	k := koanf.New(".")
	if err := k.Load(structs.Provider(server.DefaultConfig(), "koanf"), nil); err != nil {
		return server.Config{}, nil, fmt.Errorf("load defaults: %w", err)
	}
	path, _ := flags.GetString("config")
	if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
		if !errors.Is(err, fs.ErrNotExist) || flags.Changed("config") {
			return server.Config{}, nil, fmt.Errorf("load %s: %w", path, err)
		}
	}
	byEnv := map[string]string{}
	for _, key := range configKeys() {
		byEnv[envName(key)] = key
	}
	err := k.Load(env.Provider(".", env.Opt{
		Prefix:      envPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			key, ok := byEnv[name]
			if !ok {
				if !clientEnv[name] {
					warnings = append(warnings, "ignoring unknown environment variable "+name)
				}
				return "", nil
			}
			if listKeys[key] {
				return key, splitList(value)
			}
			return key, value
		},
	}), nil)
	if err != nil {
		return server.Config{}, nil, fmt.Errorf("load environment: %w", err)
	}
	byFlag := map[string]string{}
	for _, key := range configKeys() {
		byFlag[flagName(key)] = key
	}
	err = k.Load(posflag.ProviderWithFlag(flags, ".", nil, func(f *pflag.Flag) (string, any) {
		key, ok := byFlag[f.Name]
		if !ok || !f.Changed {
			return "", nil
		}
		if listKeys[key] {
			return key, splitList(f.Value.String())
		}
		return key, f.Value.String()
	}), nil)
	if err != nil {
		return server.Config{}, nil, fmt.Errorf("load flags: %w", err)
	}
	var cfg server.Config
	err = k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{
		Tag: "koanf",
		DecoderConfig: &mapstructure.DecoderConfig{
			DecodeHook: mapstructure.ComposeDecodeHookFunc(
				mapstructure.StringToTimeDurationHookFunc(),
				mapstructure.StringToSliceHookFunc(","),
			),
			ErrorUnused:      true,
			WeaklyTypedInput: true,
			Result:           &cfg,
			TagName:          "koanf",
		},
	})
	if err != nil {
		return server.Config{}, nil, fmt.Errorf("configuration: %w", err)
	}
	if len(cfg.KEKPrevious) == 0 {
		cfg.KEKPrevious = nil
	}
	return cfg, warnings, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
