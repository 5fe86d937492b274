package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nodeagent/nodeagent/internal/apply"
	"github.com/nodeagent/nodeagent/internal/kube"
)

// restConfig is the node's own kubeconfig (written by k3s), with a dialer
// that opens its connections inside the node's network namespace: the API
// is on the node's 127.0.0.1, which the test process cannot reach
// otherwise.
func (n *node) restConfig() (*rest.Config, error) {
	data, err := os.ReadFile(n.c.Path(kube.K3sKubeconfig))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the kubeconfig: %w", n.name, err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: parsing the kubeconfig: %w", n.name, err)
	}
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := inNetns(n.netns, func() error {
			var err error
			conn, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	cfg.Timeout = execTimeout
	return cfg, nil
}

// nodeObject reads the Node name through n's API server; nil when there
// is none.
func (n *node) nodeObject(ctx context.Context, name string) (*corev1.Node, error) {
	cfg, err := n.restConfig()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading Node %s: %w", n.name, name, err)
	}
	return node, nil
}

// readyHeartbeat is the last heartbeat of the Node's Ready condition.
func readyHeartbeat(node *corev1.Node) time.Time {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.LastHeartbeatTime.Time
		}
	}
	return time.Time{}
}

// objectState is what must not change once an object exists: a new UID
// means it was created again, a new generation or apply time that it was
// written.
type objectState struct {
	Ref string
	UID string
	// Generation moves with every change of the spec, and Applied is the
	// time of nodeagent's last server-side apply that changed a field (a
	// no-op apply leaves it): the controllers that now run write only the
	// status, which moves the resourceVersion and neither of these.
	Generation int64
	Applied    string
}

// inventoryEntry is an entry of kube-system/nodeagent-inventory
// (internal/apply/inventory.go).
type inventoryEntry struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
}

// appliedAt is when nodeagent's field manager last changed the object
// with an apply ("" if it never did).
func appliedAt(fields []metav1.ManagedFieldsEntry) string {
	for _, f := range fields {
		if f.Manager == apply.FieldManager && f.Operation == metav1.ManagedFieldsOperationApply && f.Subresource == "" && f.Time != nil {
			return f.Time.UTC().Format(time.RFC3339)
		}
	}
	return ""
}

// inventorySnapshot reads the inventory and the live UID, generation and
// nodeagent's last apply of every object in it, through the node's API
// server.
func (n *node) inventorySnapshot(ctx context.Context) ([]objectState, string, error) {
	cfg, err := n.restConfig()
	if err != nil {
		return nil, "", err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "nodeagent-inventory", metav1.GetOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("reading the inventory: %w", err)
	}
	var entries []inventoryEntry
	if err := json.Unmarshal([]byte(cm.Data["objects.json"]), &entries); err != nil {
		return nil, "", fmt.Errorf("decoding the inventory: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	var out []objectState
	for _, e := range entries {
		gv, err := schema.ParseGroupVersion(e.APIVersion)
		if err != nil {
			return nil, "", err
		}
		m, err := mapper.RESTMapping(gv.WithKind(e.Kind).GroupKind(), gv.Version)
		if err != nil {
			return nil, "", fmt.Errorf("mapping %s: %w", e.Kind, err)
		}
		obj, err := dyn.Resource(m.Resource).Namespace(e.Namespace).Get(ctx, e.Name, metav1.GetOptions{})
		if err != nil {
			return nil, "", fmt.Errorf("reading %s/%s/%s: %w", e.Kind, e.Namespace, e.Name, err)
		}
		if string(obj.GetUID()) != e.UID {
			return nil, "", fmt.Errorf("%s/%s/%s has UID %s, the inventory says %s", e.Kind, e.Namespace, e.Name, obj.GetUID(), e.UID)
		}
		out = append(out, objectState{Ref: e.Kind + "/" + e.Namespace + "/" + e.Name, UID: e.UID,
			Generation: obj.GetGeneration(), Applied: appliedAt(obj.GetManagedFields())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, cm.ResourceVersion, nil
}
