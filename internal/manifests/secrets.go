package manifests

import (
	"fmt"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/nodeagent/nodeagent/internal/config"
)

// How a needed Secret comes into the cluster.
const (
	// SecretGenerated: random, created in the cluster by the server that
	// applies, when missing; the value is never written anywhere else.
	SecretGenerated = "generated"
	// SecretExternal: comes from outside (a key, a bucket's credentials, a
	// CA): a person creates it, sealed with kubeseal for git.
	SecretExternal = "external"
)

// SecretNeed is one Secret the rendered objects reference.
type SecretNeed struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Role names the entry of the table of known Secrets; empty for a
	// Secret only the references know.
	Role string `json:"role,omitempty"`
	// Keys are the keys the objects read key by key plus the ones the role
	// needs; empty when only the whole Secret is referenced.
	Keys []string `json:"keys,omitempty"`
	// Blocks names the objects that cannot start without it, "Kind/name".
	Blocks []string `json:"blocks"`
	// Optional: every reference is optional, so nothing waits for it.
	Optional bool   `json:"optional,omitempty"`
	Source   string `json:"source"`
	// Create is a command line that creates it, with placeholders for the
	// values (never a value); Hint says where the values come from.
	Create string `json:"create"`
	Hint   string `json:"hint,omitempty"`
}

// String is "namespace/name".
func (n SecretNeed) String() string { return n.Namespace + "/" + n.Name }

// Generated reports whether nodeagent creates the Secret when it is missing.
func (n SecretNeed) Generated() bool { return n.Source == SecretGenerated }

// secretRole is an entry of the table of known Secrets. A reference takes
// the role of the first entry that matches the object referencing it (its
// app name) and how: a key read key by key, the whole Secret (envFrom, a
// volume), or the ClusterIssuer's CA. Matching by the referencing workload,
// not by the Secret's name, keeps the role when the cluster file renames the
// Secret.
type secretRole struct {
	role     string
	workload string // the referencing object's app name; "" for the issuer
	key      string // the key read key by key; "" for the whole Secret
	issuer   bool
	keys     []string
	source   string
	// create returns the command line (placeholders only) and the hint.
	create func(n SecretNeed, seal sealer) (string, string)
}

var secretRoles = []secretRole{
	{role: "immich-postgres", workload: "immich-postgres", key: postgresSecretKey, keys: []string{postgresSecretKey},
		source: SecretGenerated, create: randomHowTo},
	{role: "pihole", workload: "pihole", key: "password", keys: []string{"password"},
		source: SecretGenerated, create: randomHowTo},
	{role: "beszel-agent", workload: "beszel-agent", keys: []string{"KEY"}, source: SecretExternal,
		create: func(n SecretNeed, seal sealer) (string, string) {
			return seal.pipe(n.Name, fmt.Sprintf("kubectl -n %s create secret generic %s --from-literal=KEY='<hub public key>'", n.Namespace, n.Name)),
				"the public key beszel's hub shows under Add System"
		}},
	{role: "restic-b2", workload: "restic-backup", keys: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "RESTIC_PASSWORD", "RESTIC_REPOSITORY"},
		source: SecretExternal,
		create: func(n SecretNeed, seal sealer) (string, string) {
			return seal.pipe(n.Name, fmt.Sprintf("kubectl -n %s create secret generic %s --from-env-file=<file>", n.Namespace, n.Name)),
				"<file> (mode 0600, delete it after): RESTIC_REPOSITORY=s3:<B2 endpoint>/<bucket>, RESTIC_PASSWORD=…, AWS_ACCESS_KEY_ID=<keyID>, AWS_SECRET_ACCESS_KEY=<applicationKey>"
		}},
	{role: "issuer-ca", issuer: true, keys: []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey}, source: SecretExternal,
		create: func(n SecretNeed, seal sealer) (string, string) {
			return seal.pipe(n.Name, fmt.Sprintf("kubectl -n %s create secret tls %s --cert=<ca.crt> --key=<ca.key>", n.Namespace, n.Name)),
				"the CA's certificate and key in PEM, e.g. mkcert's rootCA.pem and rootCA-key.pem (mkcert -CAROOT)"
		}},
}

// randomHowTo creates a generated Secret by hand, for who wants to choose
// the value: a random one read from a pipe, never typed into argv.
func randomHowTo(n SecretNeed, seal sealer) (string, string) {
	return seal.pipe(n.Name, fmt.Sprintf("openssl rand -hex 32 | tr -d '\\n' | kubectl -n %s create secret generic %s --from-file=%s=/dev/stdin", n.Namespace, n.Name, n.Keys[0])),
		"nodeagent generates it when missing; it never changes an existing one"
}

// genericHowTo is for a Secret no role knows.
func genericHowTo(n SecretNeed, seal sealer) (string, string) {
	if len(n.Keys) == 0 {
		return seal.pipe(n.Name, fmt.Sprintf("kubectl -n %s create secret generic %s --from-env-file=<file>", n.Namespace, n.Name)),
			"<file> has one KEY=value line per variable the workload reads"
	}
	cmd := fmt.Sprintf("kubectl -n %s create secret generic %s", n.Namespace, n.Name)
	for _, k := range n.Keys {
		cmd += fmt.Sprintf(" --from-file=%s=<file with the value>", k)
	}
	return seal.pipe(n.Name, cmd), ""
}

// sealer turns a kubectl create into a sealed one when the cluster runs
// sealed-secrets: the SealedSecret can then be kept in git.
type sealer struct {
	enabled   bool
	namespace string
}

// pipe seals create's output into <name>.sealed.yaml, the file to keep.
func (s sealer) pipe(name, create string) string {
	file := name + ".sealed.yaml"
	if !s.enabled {
		return create
	}
	flags := ""
	if s.namespace != "kube-system" {
		// kubeseal looks for the controller in kube-system unless told.
		flags = " --controller-namespace " + s.namespace
	}
	return create + " --dry-run=client -o yaml | kubeseal" + flags + " -o yaml > " + file + " && kubectl apply -f " + file
}

// secretRef is one reference to a Secret from an object.
type secretRef struct {
	namespace, name string
	key             string // "" for the whole Secret
	optional        bool
	from            string // "Kind/name"
	workload        string
	issuer          bool
}

// RequiredSecrets derives the Secrets that objs (rendered objects, and any
// others such as the overlay's) need from the objects themselves: every pod
// template's env, envFrom and secret volumes (projected ones too) and the
// ca ClusterIssuer's Secret, which lives in cert-manager's namespace. The
// table of known roles adds keys and says which are generated; anything
// else gets a generic how-to. Image pull secrets are left out: the kubelet
// pulls without a missing one. Sorted by namespace and name.
func RequiredSecrets(c *config.Cluster, objs []*unstructured.Unstructured) ([]SecretNeed, error) {
	var refs []secretRef
	provided := map[string]string{}
	for _, u := range objs {
		if isSecretSource(u) {
			provided[u.GetNamespace()+"/"+u.GetName()] = u.GetKind() + "/" + u.GetName()
		}
		r, err := objectSecretRefs(c, u)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r...)
	}
	needs := secretNeeds(c, refs)
	for i, n := range needs {
		// A Secret the objects bring along (the overlay's SealedSecret)
		// is theirs to create: generating it first would make the
		// sealed-secrets controller refuse to take it over.
		if by, ok := provided[n.String()]; ok {
			needs[i].Source, needs[i].Create, needs[i].Hint = SecretExternal, "kubectl -n "+n.Namespace+" describe "+by, "applied from "+by+"; its controller creates the Secret"
		}
	}
	return needs, nil
}

// isSecretSource: a Secret, or a SealedSecret that becomes one.
func isSecretSource(u *unstructured.Unstructured) bool {
	gvk := u.GroupVersionKind()
	return gvk.Group == "" && gvk.Kind == "Secret" || gvk.Group == "bitnami.com" && gvk.Kind == "SealedSecret"
}

func secretNeeds(c *config.Cluster, refs []secretRef) []SecretNeed {
	seal := sealer{enabled: c.Platform.SealedSecrets.IsEnabled(), namespace: c.Platform.SealedSecrets.Namespace}
	byName := map[string]*SecretNeed{}
	roles := map[string]*secretRole{}
	allOptional := map[string]bool{}
	for _, r := range refs {
		id := r.namespace + "/" + r.name
		n := byName[id]
		if n == nil {
			n = &SecretNeed{Namespace: r.namespace, Name: r.name}
			byName[id] = n
			allOptional[id] = true
		}
		allOptional[id] = allOptional[id] && r.optional
		if !slices.Contains(n.Blocks, r.from) {
			n.Blocks = append(n.Blocks, r.from)
		}
		if r.key != "" && !r.optional && !slices.Contains(n.Keys, r.key) {
			n.Keys = append(n.Keys, r.key)
		}
		if role := matchRole(r); role != nil && (roles[id] == nil || role.source == SecretExternal) {
			// Two roles for one Secret: never generate what a person
			// is expected to provide.
			roles[id] = role
		}
	}
	out := make([]SecretNeed, 0, len(byName))
	for id, n := range byName {
		n.Optional = allOptional[id]
		n.Source, n.Create, n.Hint = SecretExternal, "", ""
		create := genericHowTo
		if role := roles[id]; role != nil {
			n.Role, n.Source, create = role.role, role.source, role.create
			for _, k := range role.keys {
				if !slices.Contains(n.Keys, k) {
					n.Keys = append(n.Keys, k)
				}
			}
		}
		sort.Strings(n.Keys)
		sort.Strings(n.Blocks)
		n.Create, n.Hint = create(*n, seal)
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func matchRole(r secretRef) *secretRole {
	for i := range secretRoles {
		role := &secretRoles[i]
		if r.issuer && role.issuer || !r.issuer && !role.issuer && role.workload == r.workload && role.key == r.key {
			return role
		}
	}
	return nil
}
