package deploy_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/roomkeeper/roomkeeper/internal/config"
)

// composeFile is the part of a Compose file the checks read. Environment
// and depends_on take both Compose forms (list or map).
type composeFile struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string       `yaml:"image"`
	Build       any          `yaml:"build"`
	Command     stringList   `yaml:"command"`
	Environment envMap       `yaml:"environment"`
	DependsOn   dependsOn    `yaml:"depends_on"`
	Healthcheck *healthcheck `yaml:"healthcheck"`
	Restart     string       `yaml:"restart"`
	Volumes     volumeList   `yaml:"volumes"`
}

type healthcheck struct {
	Test stringList `yaml:"test"`
}

// stringList is a command or test, in list or string form.
type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = strings.Fields(n.Value)
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// volumeList is a service's volumes as source:target, in short or long
// (source, target) form.
type volumeList []string

func (v *volumeList) UnmarshalYAML(n *yaml.Node) error {
	var out volumeList
	for _, item := range n.Content {
		if item.Kind == yaml.ScalarNode {
			out = append(out, item.Value)
			continue
		}
		var long struct {
			Source string `yaml:"source"`
			Target string `yaml:"target"`
		}
		if err := item.Decode(&long); err != nil {
			return err
		}
		out = append(out, long.Source+":"+long.Target)
	}
	*v = out
	return nil
}

// envMap is an environment, in map or KEY=value list form.
type envMap map[string]string

func (e *envMap) UnmarshalYAML(n *yaml.Node) error {
	out := envMap{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	} else {
		var m map[string]any
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			if v == nil {
				out[k] = ""
			} else {
				out[k] = strings.TrimSpace(strings.Trim(yamlString(v), "\n"))
			}
		}
	}
	*e = out
	return nil
}

func yamlString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(b))
}

// dependsOn maps a service to its condition ("" in list form).
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	out := dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, s := range l {
			out[s] = ""
		}
	} else {
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			out[k] = v.Condition
		}
	}
	*d = out
	return nil
}

// repoRoot is the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.mod not found above the test")
		dir = parent
	}
}

// configEnvNames are the environment names config.Config reads, from the
// env tags of its fields (kong allows several, comma-separated).
func configEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	typ := reflect.TypeFor[config.Config]()
	for f := range typ.Fields() {
		for n := range strings.SplitSeq(f.Tag.Get("env"), ",") {
			if n = strings.TrimSpace(n); n != "" {
				names[n] = true
			}
		}
	}
	require.Contains(t, names, "NATS_URL", "reflection found the env tags")
	return names
}

// checkCompose checks the stack the contract asks for; the same checks run
// on the file as written and on docker-compose's resolved rendering.
func checkCompose(t *testing.T, f composeFile) {
	envNames := configEnvNames(t)
	require.NotEmpty(t, f.Services, "no services")

	roles := map[string][]string{}
	for name, s := range f.Services {
		for dep := range s.DependsOn {
			require.Contains(t, f.Services, dep, "%s depends on a service that does not exist", name)
		}
		if !strings.Contains(s.Image, "roomkeeper") {
			continue
		}
		// A roomkeeper service.
		require.NotEmpty(t, s.Command, "%s: no role", name)
		role := s.Command[0]
		require.Contains(t, []string{"worker", "webhooks", "scheduler", "api"}, role, "%s: role", name)
		roles[role] = append(roles[role], name)
		require.NotNil(t, s.Build, "%s: built from the Dockerfile", name)
		for k := range s.Environment {
			require.True(t, envNames[k], "%s sets %s, which config.Config does not read (env tags: %v)", name, k, slices.Sorted(mapKeys(envNames)))
		}
		env := s.Environment
		require.Equal(t, "3", env["STREAM_REPLICAS"], "%s: R3 streams on the cluster", name)
		require.Equal(t, ":8080", env["HTTP_ADDR"], name)
		require.Len(t, strings.Split(env["NATS_URL"], ","), 3, "%s: NATS_URL lists the three servers", name)
		require.Contains(t, env["MONGO_URI"], "replicaSet=", "%s: MONGO_URI names the replica set", name)
		for _, k := range []string{"LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "BASE_URL"} {
			require.NotEmpty(t, env[k], "%s: %s", name, k)
		}
		require.NotNil(t, s.Healthcheck, "%s: health check", name)
		require.Contains(t, strings.Join(s.Healthcheck.Test, " "), "/readyz", "%s: health check on /readyz", name)
		for _, dep := range []string{"nats-1", "nats-2", "nats-3"} {
			require.Equal(t, "service_healthy", s.DependsOn[dep], "%s waits for %s", name, dep)
		}
		require.Equal(t, "service_completed_successfully", s.DependsOn["mongo-init"], "%s waits for the replica set", name)
	}
	require.Len(t, roles["worker"], 3, "three workers")
	require.Len(t, roles["scheduler"], 2, "two schedulers")
	require.Len(t, roles["webhooks"], 1, "one webhook receiver")
	require.Len(t, roles["api"], 1, "one HTTP API")

	// NATS: three JetStream servers routed to each other in one cluster.
	var nats []string
	for name, s := range f.Services {
		if strings.HasPrefix(s.Image, "nats:") {
			nats = append(nats, name)
			cmd := strings.Join(s.Command, " ")
			require.Contains(t, cmd, "--jetstream", name)
			require.Contains(t, cmd, "--cluster_name roomkeeper", name)
			require.Contains(t, cmd, "--cluster nats://0.0.0.0:6222", name)
			require.NotNil(t, s.Healthcheck, name)
			i := slices.Index(s.Command, "--routes")
			require.GreaterOrEqual(t, i, 0, "%s: routes", name)
			routes := strings.Split(s.Command[i+1], ",")
			require.Len(t, routes, 2, "%s routes to the two others", name)
			for _, r := range routes {
				host := strings.TrimSuffix(strings.TrimPrefix(r, "nats://"), ":6222")
				require.Contains(t, f.Services, host, "%s routes to %s", name, r)
				require.NotEqual(t, name, host)
			}
		}
	}
	require.Len(t, nats, 3, "a 3-node NATS cluster")
	checkClusterTopology(t, f, nats, roles)

	// MongoDB: three members of rs0 and a one-shot initiation.
	var mongods int
	for name, s := range f.Services {
		if strings.HasPrefix(s.Image, "mongo:") && slices.Contains(s.Command, "mongod") {
			mongods++
			require.Contains(t, strings.Join(s.Command, " "), "--replSet rs0", name)
			require.NotNil(t, s.Healthcheck, name)
		}
	}
	require.Equal(t, 3, mongods, "a 3-member replica set")
	initSvc, ok := f.Services["mongo-init"]
	require.True(t, ok, "mongo-init")
	script := strings.Join(initSvc.Command, " ")
	require.Contains(t, script, "rs.initiate")
	for _, m := range []string{"mongo-1:27017", "mongo-2:27017", "mongo-3:27017"} {
		require.Contains(t, script, m)
	}
	require.Equal(t, "no", initSvc.Restart, "mongo-init runs once")

	// LiveKit with Redis, webhooks to the roomkeeper receiver.
	lk, ok := f.Services["livekit"]
	require.True(t, ok, "livekit")
	require.Equal(t, "livekit/livekit-server:v1.13.5", lk.Image)
	require.Contains(t, lk.DependsOn, "redis")
	require.Contains(t, f.Services, "redis")
	var lkc struct {
		Redis struct {
			Address string `yaml:"address"`
		} `yaml:"redis"`
		Keys    map[string]string `yaml:"keys"`
		Webhook struct {
			APIKey string   `yaml:"api_key"`
			URLs   []string `yaml:"urls"`
		} `yaml:"webhook"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(lk.Environment["LIVEKIT_CONFIG"]), &lkc), "LIVEKIT_CONFIG is YAML")
	require.Equal(t, "redis:6379", lkc.Redis.Address)
	require.Len(t, lkc.Keys, 1)
	require.Contains(t, lkc.Keys, lkc.Webhook.APIKey, "webhooks signed with the configured key")
	require.Len(t, roles["webhooks"], 1)
	require.Equal(t, []string{"http://" + roles["webhooks"][0] + ":8080/livekit/webhook"}, lkc.Webhook.URLs,
		"LiveKit sends its webhooks to the roomkeeper receiver")
}

// checkClusterTopology checks that the services name each other the way
// the nemesis (internal/nemesis) runs them: the three NATS servers, each
// named after its service with a store of its own, form one cluster whose
// routes reach every node and that every role's NATS_URL lists; MONGO_URI
// lists the members of the replica set mongo-init initiates, under its
// name, and mongo-init waits for a primary; the roles' LIVEKIT_URL is the
// LiveKit service; at least two workers share the work.
func checkClusterTopology(t *testing.T, f composeFile, nats []string, roles map[string][]string) {
	t.Helper()
	slices.Sort(nats)
	// One cluster: every node's routes, followed from any node, reach
	// every other.
	routes := map[string][]string{}
	volumes := map[string]string{}
	for _, name := range nats {
		s := f.Services[name]
		i := slices.Index(s.Command, "--name")
		require.GreaterOrEqual(t, i, 0, "%s: server name", name)
		require.Equal(t, name, s.Command[i+1], "%s: server named after its service", name)
		i = slices.Index(s.Command, "--routes")
		for _, r := range strings.Split(s.Command[i+1], ",") {
			routes[name] = append(routes[name], strings.TrimSuffix(strings.TrimPrefix(r, "nats://"), ":6222"))
		}
		require.Len(t, s.Volumes, 1, "%s: one volume, its JetStream store", name)
		other, dup := volumes[s.Volumes[0]]
		require.False(t, dup, "%s and %s share a JetStream store", name, other)
		volumes[s.Volumes[0]] = name
	}
	reached := map[string]bool{nats[0]: true}
	for queue := []string{nats[0]}; len(queue) > 0; queue = queue[1:] {
		for _, next := range routes[queue[0]] {
			if !reached[next] {
				reached[next] = true
				queue = append(queue, next)
			}
		}
	}
	require.Len(t, reached, len(nats), "the routes join the three nodes into one cluster")

	// The replica set: MONGO_URI's hosts are the mongod services, its
	// replicaSet the name they run and mongo-init initiates.
	var members []string
	rsName := ""
	for name, s := range f.Services {
		if strings.HasPrefix(s.Image, "mongo:") && slices.Contains(s.Command, "mongod") {
			members = append(members, name+":27017")
			i := slices.Index(s.Command, "--replSet")
			require.GreaterOrEqual(t, i, 0, "%s: --replSet", name)
			if rsName == "" {
				rsName = s.Command[i+1]
			}
			require.Equal(t, rsName, s.Command[i+1], "%s: one replica set", name)
		}
	}
	slices.Sort(members)
	script := strings.Join(f.Services["mongo-init"].Command, " ")
	require.Contains(t, script, `_id: "`+rsName+`"`, "mongo-init initiates %s", rsName)
	require.Contains(t, script, "PRIMARY", "mongo-init waits for a primary")

	require.GreaterOrEqual(t, len(roles["worker"]), 2, "workers share the durable consumer")
	for _, list := range roles {
		for _, name := range list {
			env := f.Services[name].Environment
			var hosts []string
			for _, u := range strings.Split(env["NATS_URL"], ",") {
				hosts = append(hosts, strings.TrimSuffix(strings.TrimPrefix(u, "nats://"), ":4222"))
			}
			slices.Sort(hosts)
			require.Equal(t, nats, hosts, "%s: NATS_URL lists the cluster's nodes", name)

			u, err := url.Parse(env["MONGO_URI"])
			require.NoError(t, err, "%s: MONGO_URI", name)
			uriHosts := strings.Split(u.Host, ",")
			slices.Sort(uriHosts)
			require.Equal(t, members, uriHosts, "%s: MONGO_URI lists the replica set's members", name)
			require.Equal(t, rsName, u.Query().Get("replicaSet"), "%s: MONGO_URI names the replica set", name)

			lk, err := url.Parse(env["LIVEKIT_URL"])
			require.NoError(t, err, "%s: LIVEKIT_URL", name)
			require.Equal(t, "livekit", lk.Hostname(), "%s: LIVEKIT_URL is the LiveKit service", name)
		}
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestComposeFile(t *testing.T) {
	root := repoRoot(t)
	path := filepath.Join(root, "docker-compose.yml")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)

	t.Run("structure", func(t *testing.T) {
		var f composeFile
		require.NoError(t, yaml.Unmarshal(raw, &f), "docker-compose.yml is not valid YAML")
		checkCompose(t, f)
	})

	t.Run("compose-go", func(t *testing.T) {
		// Compose's own loader (github.com/compose-spec/compose-go, what
		// `docker compose` runs): the file against the Compose schema,
		// anchors merged, variables interpolated from .env.example.
		p := loadCompose(t, root, filepath.Join(root, ".env.example"))
		out, err := p.MarshalYAML()
		require.NoError(t, err)
		var f composeFile
		require.NoError(t, yaml.Unmarshal(out, &f))
		checkCompose(t, f)
		checkExampleEnv(t, root, p)
		checkPublishedHTTP(t, p)
		checkNATSImage(t, root, p)
	})

	t.Run("required settings", func(t *testing.T) {
		// Without the key pair Compose refuses to start, naming it.
		empty := filepath.Join(t.TempDir(), "empty.env")
		require.NoError(t, os.WriteFile(empty, nil, 0o600))
		opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
			cli.WithWorkingDirectory(root), cli.WithName("roomkeeper"), cli.WithEnvFiles(empty), cli.WithDotEnv)
		require.NoError(t, err)
		_, err = opts.LoadProject(context.Background())
		require.Error(t, err)
		require.Contains(t, err.Error(), "LIVEKIT_API_KEY")
	})
}

// loadCompose loads docker-compose.yml in root as `docker compose` does,
// with the variables of envFile only (not the test's environment).
func loadCompose(t *testing.T, root, envFile string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("roomkeeper"), cli.WithEnvFiles(envFile), cli.WithDotEnv)
	require.NoError(t, err)
	p, err := opts.LoadProject(context.Background())
	require.NoError(t, err, "docker-compose.yml does not load")
	return p
}

// checkExampleEnv: every variable docker-compose.yml reads is in
// .env.example, whose values reach the services, and each roomkeeper
// service's environment so resolved passes roomkeeper's own validation
// (LIVEKIT_API_SECRET's length among it).
func checkExampleEnv(t *testing.T, root string, p *types.Project) {
	t.Helper()
	example, err := dotenv.GetEnvFromFile(nil, []string{filepath.Join(root, ".env.example")})
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	for _, m := range regexp.MustCompile(`\$\{([A-Z_]+)`).FindAllStringSubmatch(string(raw), -1) {
		require.Contains(t, example, m[1], ".env.example sets %s, which docker-compose.yml reads", m[1])
	}
	for name, svc := range p.Services {
		if !strings.Contains(svc.Image, "roomkeeper") {
			continue
		}
		require.Equal(t, example["LIVEKIT_API_KEY"], *svc.Environment["LIVEKIT_API_KEY"], "%s: interpolated", name)
		require.Equal(t, example["ROOMKEEPER_BASE_URL"], *svc.Environment["BASE_URL"], "%s: interpolated", name)
		var cfg config.Config
		parser, err := kong.New(&cfg, kong.Exit(func(int) {}), kong.Resolvers(envResolver(svc.Environment)))
		require.NoError(t, err)
		_, err = parser.Parse(nil)
		require.NoError(t, err, name)
		require.NoError(t, cfg.Validate(), "%s: roomkeeper would refuse this environment", name)
	}
}

// envResolver gives kong a service's environment instead of the test's.
func envResolver(env types.MappingWithEquals) kong.Resolver {
	return kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
		for _, name := range flag.Envs {
			if v, ok := env[name]; ok && v != nil {
				return *v, nil
			}
		}
		return nil, nil
	})
}

// checkPublishedHTTP: one roomkeeper service publishes its HTTP port (the
// HTTP_ADDR port: the HTTP API, the console, /readyz, /metrics, room
// links) on the host's loopback, and it runs the api role, the only one of
// the stack's roles that serves the HTTP API (/api/v1); with
// .env.example's settings the API and the console are on there: HTTP_ADDR
// is not a loopback address in the container, so without a key or a
// console password both would be off.
func checkPublishedHTTP(t *testing.T, p *types.Project) {
	t.Helper()
	var published []types.ServiceConfig
	for _, s := range p.Services {
		if strings.Contains(s.Image, "roomkeeper") && len(s.Ports) > 0 {
			published = append(published, s)
		}
	}
	require.Len(t, published, 1, "one roomkeeper service publishes its HTTP port")
	svc := published[0]
	require.Equal(t, []string{"api"}, []string(svc.Command), "%s publishes the HTTP port: its role must serve the HTTP API (/api/v1)", svc.Name)
	require.Len(t, svc.Ports, 1, "%s publishes its HTTP port", svc.Name)
	port := svc.Ports[0]
	require.EqualValues(t, 8080, port.Target, "HTTP_ADDR :8080")
	require.Equal(t, "8080", port.Published)
	require.Equal(t, "127.0.0.1", port.HostIP, "on the host's loopback: nothing on it asks for a key")
	require.Equal(t, ":8080", *svc.Environment["HTTP_ADDR"])
	cfg := serviceConfig(t, svc)
	require.False(t, cfg.HTTPLoopback())
	require.NotEmpty(t, cfg.APIKeys, "the api role serves the HTTP API (/api/v1) and the console (/ui): API_KEYS is set")
}

// serviceConfig is roomkeeper's config from a service's environment.
func serviceConfig(t *testing.T, svc types.ServiceConfig) config.Config {
	t.Helper()
	var cfg config.Config
	parser, err := kong.New(&cfg, kong.Exit(func(int) {}), kong.Resolvers(envResolver(svc.Environment)))
	require.NoError(t, err)
	_, err = parser.Parse(nil)
	require.NoError(t, err)
	return cfg
}

// checkNATSImage: the NATS servers run the minor version of the embedded
// nats-server in go.mod, which the tests run against.
func checkNATSImage(t *testing.T, root string, p *types.Project) {
	t.Helper()
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\s*github\.com/nats-io/nats-server/v2 v(\d+)\.(\d+)\.`).FindSubmatch(mod)
	require.NotNil(t, m, "nats-server in go.mod")
	want := "nats:" + string(m[1]) + "." + string(m[2]) + "-"
	var n int
	for name, svc := range p.Services {
		if strings.HasPrefix(svc.Image, "nats:") {
			n++
			require.True(t, strings.HasPrefix(svc.Image, want), "%s runs %s; go.mod has nats-server v%s.%s", name, svc.Image, m[1], m[2])
		}
	}
	require.Equal(t, 3, n)
}

// TestDockerfile checks the image is a static, non-root build whose health
// check uses /readyz.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	require.NoError(t, err)
	df := string(b)
	require.GreaterOrEqual(t, len(regexp.MustCompile(`(?m)^FROM `).FindAllString(df, -1)), 2, "multi-stage")
	require.Contains(t, df, "CGO_ENABLED=0", "static binary")
	require.Regexp(t, `(?m)^USER nonroot`, df, "runs as non-root")
	require.Contains(t, df, "/readyz")
	require.Contains(t, df, "./cmd/roomkeeper")
}
