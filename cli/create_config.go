package cli

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/wake-run/wake/events/object"
	"github.com/wake-run/wake/services/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// sourceFlags are the data flags of create configmap and create secret generic.
type sourceFlags struct {
	literals, files, envFiles []string
}

func (s *sourceFlags) register(cmd *cobra.Command, what string) {
	cmd.Flags().StringArrayVar(&s.literals, "from-literal", nil, "Specify a key and literal value to insert in "+what+" (i.e. mykey=somevalue)")
	cmd.Flags().StringArrayVar(&s.files, "from-file", nil, "Key file can be specified using its file path, in which case file basename will be used as "+what+" key, or optionally with a key and file path, in which case the given key will be used. Specifying a directory will iterate each named file in the directory whose basename is a valid "+what+" key.")
	cmd.Flags().StringArrayVar(&s.envFiles, "from-env-file", nil, "Specify the path to a file to read lines of key=val pairs to create a "+what+".")
}

// createOutput are the flags that let a create command print instead of write.
type createOutput struct {
	dryRun, output string
	verb           string // what the line says was done (default "created")
}

func (o *createOutput) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.dryRun, "dry-run", "none", `Must be "none" or "client". If client strategy, only print the object that would be sent, without sending it.`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Output format. One of: (json, yaml, name).")
}

// configKey is what a ConfigMap or Secret key may be (validation.IsConfigMapKey).
var configKeyRE = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

func checkConfigKey(key, kind string) error {
	if len(key) > 253 || !configKeyRE.MatchString(key) || key == "." || key == ".." || strings.HasPrefix(key, "..") {
		return fmt.Errorf("%q is not a valid key name for a %s: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')", key, kind)
	}
	return nil
}

// collect reads the sources into key/value pairs, calling add for each (which
// refuses a key given twice).
func (s *sourceFlags) collect(add func(key string, value []byte) error) error {
	for _, path := range s.envFiles {
		if err := readEnvFile(path, add); err != nil {
			return err
		}
	}
	for _, spec := range s.files {
		key, path, hasKey := strings.Cut(spec, "=")
		if !hasKey {
			path, key = spec, ""
		}
		info, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("error reading %s: %w", path, err)
		}
		if info.IsDir() {
			if hasKey {
				return fmt.Errorf("cannot give a key name for a directory path")
			}
			entries, err := os.ReadDir(path)
			if err != nil {
				return err
			}
			for _, e := range entries {
				full := filepath.Join(path, e.Name())
				if fi, err := os.Stat(full); err != nil || !fi.Mode().IsRegular() || checkConfigKey(e.Name(), "ConfigMap") != nil {
					continue // kubectl takes the regular files whose names are keys
				}
				data, err := os.ReadFile(full)
				if err != nil {
					return err
				}
				if err := add(e.Name(), data); err != nil {
					return err
				}
			}
			continue
		}
		if key == "" {
			key = filepath.Base(path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("error reading %s: %w", path, err)
		}
		if err := add(key, data); err != nil {
			return err
		}
	}
	for _, lit := range s.literals {
		key, value, ok := strings.Cut(lit, "=")
		if !ok || key == "" {
			return fmt.Errorf("invalid literal source %s, expected key=value", lit)
		}
		if err := add(key, []byte(value)); err != nil {
			return err
		}
	}
	return nil
}

// envVarNameRE is what an env file's key may be (validation.IsEnvVarName).
var envVarNameRE = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// readEnvFile reads KEY=VALUE lines as kubectl does: leading space is dropped,
// blank lines and # comments skipped, a line without = takes the value of the
// environment variable it names ("" when it is unset).
func readEnvFile(path string, add func(string, []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("error reading %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
		}
		if !utf8.Valid(line) {
			return fmt.Errorf("env file %s contains invalid utf8 bytes at line %d: %v", path, n, line)
		}
		data := strings.TrimLeftFunc(string(line), unicode.IsSpace)
		if data == "" || strings.HasPrefix(data, "#") {
			continue
		}
		key, value, hasValue := strings.Cut(data, "=")
		if !envVarNameRE.MatchString(key) {
			return fmt.Errorf("%q is not a valid key name: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')", key)
		}
		if !hasValue {
			value = os.Getenv(key)
		}
		if err := add(key, []byte(value)); err != nil {
			return err
		}
	}
	return sc.Err()
}

func newCreateConfigMapCmd(g *globals) *cobra.Command {
	var src sourceFlags
	var out createOutput
	cmd := &cobra.Command{
		Use:     "configmap NAME [--from-file=[key=]source] [--from-literal=key1=value1] [--from-env-file=source] [--dry-run=client]",
		Aliases: []string{"cm"},
		Short:   "Create a config map from a local file, directory or literal value",
		Args:    oneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: args[0], Namespace: g.namespace}}
			cm.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
			err := src.collect(func(key string, value []byte) error {
				if err := checkConfigKey(key, "ConfigMap"); err != nil {
					return err
				}
				_, inData := cm.Data[key]
				_, inBinary := cm.BinaryData[key]
				if inData || inBinary {
					return fmt.Errorf("cannot add key %q, another key by that name already exists in Data for ConfigMap %q", key, args[0])
				}
				if utf8.Valid(value) {
					if cm.Data == nil {
						cm.Data = map[string]string{}
					}
					cm.Data[key] = string(value)
				} else {
					if cm.BinaryData == nil {
						cm.BinaryData = map[string][]byte{}
					}
					cm.BinaryData[key] = value
				}
				return nil
			})
			if err != nil {
				return err
			}
			return g.createObject(cmd, cm, &out)
		},
	}
	src.register(cmd, "the configmap")
	out.register(cmd)
	return cmd
}

func newCreateSecretCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret (docker-registry | generic | tls)",
		Short: "Create a secret using a specified subcommand",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCreateSecretGenericCmd(g), newCreateSecretTLSCmd(g), newCreateSecretDockerCmd(g))
	return cmd
}

func newSecret(g *globals, name string, typ corev1.SecretType) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: g.namespace}, Type: typ}
	s.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return s
}

func newCreateSecretGenericCmd(g *globals) *cobra.Command {
	var src sourceFlags
	var out createOutput
	var typ string
	cmd := &cobra.Command{
		Use:   "generic NAME [--type=string] [--from-file=[key=]source] [--from-literal=key1=value1] [--dry-run=client]",
		Short: "Create a secret from a local file, directory, or literal value",
		Args:  oneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			s := newSecret(g, args[0], corev1.SecretType(typ))
			err := src.collect(func(key string, value []byte) error {
				if err := checkConfigKey(key, "Secret"); err != nil {
					return err
				}
				if _, dup := s.Data[key]; dup {
					return fmt.Errorf("cannot add key %q, another key by that name already exists in Data for Secret %q", key, args[0])
				}
				if s.Data == nil {
					s.Data = map[string][]byte{}
				}
				s.Data[key] = value
				return nil
			})
			if err != nil {
				return err
			}
			return g.createObject(cmd, s, &out)
		},
	}
	src.register(cmd, "the secret")
	cmd.Flags().StringVar(&typ, "type", "", "The type of secret to create")
	out.register(cmd)
	return cmd
}

func newCreateSecretTLSCmd(g *globals) *cobra.Command {
	var out createOutput
	var certFile, keyFile string
	cmd := &cobra.Command{
		Use:   "tls NAME --cert=path/to/cert/file --key=path/to/key/file [--dry-run=client]",
		Short: "Create a TLS secret",
		Args:  oneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if certFile == "" || keyFile == "" {
				return fmt.Errorf("key and cert must be specified")
			}
			cert, err := os.ReadFile(certFile)
			if err != nil {
				return err
			}
			key, err := os.ReadFile(keyFile)
			if err != nil {
				return err
			}
			if _, err := tls.X509KeyPair(cert, key); err != nil {
				return err
			}
			s := newSecret(g, args[0], corev1.SecretTypeTLS)
			s.Data = map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key}
			return g.createObject(cmd, s, &out)
		},
	}
	cmd.Flags().StringVar(&certFile, "cert", "", "Path to PEM encoded public key certificate.")
	cmd.Flags().StringVar(&keyFile, "key", "", "Path to private key associated with given certificate.")
	out.register(cmd)
	return cmd
}

func newCreateSecretDockerCmd(g *globals) *cobra.Command {
	var out createOutput
	var server, user, password, email string
	var fromFiles []string
	cmd := &cobra.Command{
		Use:   "docker-registry NAME --docker-username=user --docker-password=password --docker-email=email [--docker-server=string] [--from-file=[key=]source] [--dry-run=client]",
		Short: "Create a secret for use with a Docker registry",
		Args:  oneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			s := newSecret(g, args[0], corev1.SecretTypeDockerConfigJson)
			if len(fromFiles) > 0 {
				src := sourceFlags{files: fromFiles}
				s.Data = map[string][]byte{}
				if err := src.collect(func(key string, value []byte) error { s.Data[key] = value; return nil }); err != nil {
					return err
				}
				return g.createObject(cmd, s, &out)
			}
			if user == "" || password == "" {
				return fmt.Errorf("either --from-file or the combination of --docker-username, --docker-password and --docker-server is required")
			}
			type entry struct {
				Username string `json:"username,omitempty"`
				Password string `json:"password,omitempty"`
				Email    string `json:"email,omitempty"`
				Auth     string `json:"auth,omitempty"`
			}
			cfg := struct {
				Auths map[string]entry `json:"auths"`
			}{Auths: map[string]entry{server: {Username: user, Password: password, Email: email,
				Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}}}
			data, err := json.Marshal(cfg)
			if err != nil {
				return err
			}
			s.Data = map[string][]byte{corev1.DockerConfigJsonKey: data}
			return g.createObject(cmd, s, &out)
		},
	}
	cmd.Flags().StringVar(&server, "docker-server", "https://index.docker.io/v1/", "Server location for Docker registry")
	cmd.Flags().StringVar(&user, "docker-username", "", "Username for Docker registry authentication")
	cmd.Flags().StringVar(&password, "docker-password", "", "Password for Docker registry authentication")
	cmd.Flags().StringVar(&email, "docker-email", "", "Email for Docker registry")
	cmd.Flags().StringArrayVar(&fromFiles, "from-file", nil, "Key files can be specified using their file path, in which case a default name of .dockerconfigjson will be given to them, or optionally with a name and file path, in which case the given name will be used.")
	out.register(cmd)
	return cmd
}

// createObject prints obj (--dry-run=client) or creates it, as kubectl create
// does: "configmap/NAME created", or the object in the -o format.
func (g *globals) createObject(cmd *cobra.Command, obj object.Object, out *createOutput) error {
	switch out.dryRun {
	case "none", "client":
	default:
		return fmt.Errorf(`Invalid dry-run value (%s). Must be "none" or "client".`, out.dryRun)
	}
	switch out.output {
	case "", "yaml", "json", "name":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,yaml", out.output)
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if out.dryRun == "client" {
		return printCreated(g, kind, obj.GetName(), withNullCreation(raw, obj), out.output, out.verbOr()+" (dry run)")
	}
	docs, err := object.Decode(strings.ToLower(kind)+" "+obj.GetName(), raw)
	if err != nil {
		return err
	}
	if err := client.SetNamespace(docs, g.namespace, g.namespace != ""); err != nil {
		return err
	}
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Write(cmd.Context(), &docs[0], client.ModeCreate)
	if err != nil {
		return err
	}
	if out.output == "" && out.verb == "" {
		fmt.Fprintln(g.out, res.String())
		return nil
	}
	return printCreated(g, kind, obj.GetName(), raw, out.output, out.verbOr())
}

func (o *createOutput) verbOr() string {
	if o.verb == "" {
		return "created"
	}
	return o.verb
}

// printCreated prints the object in format, or kubectl's line "kind/name done".
func printCreated(g *globals, kind, name string, raw []byte, format, done string) error {
	switch format {
	case "":
		fmt.Fprintf(g.out, "%s/%s %s\n", strings.ToLower(kind), name, done)
	case "name":
		fmt.Fprintf(g.out, "%s/%s\n", strings.ToLower(kind), name)
	case "json":
		var b bytes.Buffer
		if err := json.Indent(&b, raw, "", "    "); err != nil {
			return err
		}
		fmt.Fprintln(g.out, b.String())
	case "yaml":
		y, err := yaml.JSONToYAML(raw)
		if err != nil {
			return err
		}
		_, err = g.out.Write(y)
		return err
	}
	return nil
}

// oneName accepts exactly one argument, the object's name, with kubectl's error.
func oneName(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("exactly one NAME is required, got %d", len(args))
	}
	return nil
}

// withNullCreation adds "creationTimestamp": null to the object's metadata, as
// kubectl 1.32 prints an object it has not sent (the API types of this build
// leave a zero time out).
func withNullCreation(raw []byte, obj object.Object) []byte {
	meta, err := json.Marshal(obj.(metav1.ObjectMetaAccessor).GetObjectMeta())
	if err != nil || bytes.Contains(meta, []byte(`"creationTimestamp"`)) || len(meta) < 2 {
		return raw
	}
	with := append(append([]byte{}, meta[:len(meta)-1]...), []byte(`,"creationTimestamp":null}`)...)
	return bytes.Replace(raw, append([]byte(`"metadata":`), meta...), append([]byte(`"metadata":`), with...), 1)
}
