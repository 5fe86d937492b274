package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/util/workqueue"
)

// The etcd node controllers of k3s:
//   - the metadata controller (pkg/etcd/metadata_controller.go) runs on every
//     server and keeps its own Node annotated with its member name and
//     address and labelled node-role.kubernetes.io/etcd=true;
//   - the member controller (pkg/etcd/member_controller.go) runs on the one
//     server holding the "k3s-etcd" lease (pkg/server/server.go starts
//     LeaderElectedClusterControllerStarts through wrangler's leader
//     election) and removes a Node's etcd member when the Node is deleted
//     (a wrangler OnRemove handler, which holds the Node with a finalizer
//     until the removal succeeds) or annotated etcd.k3s.cattle.io/remove=true.
const (
	nodeNameAnnotation        = "etcd.k3s.cattle.io/node-name"
	nodeAddressAnnotation     = "etcd.k3s.cattle.io/node-address"
	removalAnnotation         = "etcd.k3s.cattle.io/remove"
	removedNodeNameAnnotation = "etcd.k3s.cattle.io/removed-node-name"
	etcdRoleLabel             = "node-role.kubernetes.io/etcd"
	memberFinalizer           = "wrangler.cattle.io/managed-etcd-controller"
	etcdLeaseName             = "k3s-etcd"
)

type nodeControllers struct {
	s      *server
	cs     kubernetes.Interface
	nodes  listersv1.NodeLister
	log    *zap.Logger
	meta   workqueue.TypedRateLimitingInterface[string]
	member workqueue.TypedRateLimitingInterface[string]
}

func (s *server) startNodeControllers(ctx context.Context, cs kubernetes.Interface) {
	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Core().V1().Nodes()
	c := &nodeControllers{s: s, cs: cs, nodes: inf.Lister(), log: s.log.With(zap.String("component", "etcd-node-controllers")),
		meta:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		member: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
	enqueue := func(obj any) {
		if n, ok := obj.(*corev1.Node); ok {
			c.meta.Add(n.Name)
			c.member.Add(n.Name)
		}
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue,
		UpdateFunc: func(_, n any) { enqueue(n) }})
	s.watchNodePasswords(ctx, cs, inf.Informer())
	s.initializeNodes(ctx, cs, inf.Informer())
	factory.Start(ctx.Done())
	go func() {
		<-ctx.Done()
		c.meta.ShutDown()
		c.member.ShutDown()
	}()
	go func() {
		if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
			return
		}
		go runQueue(c.meta, c.syncMetadata, c.log)
		c.leaderElect(ctx)
	}()
}

func runQueue(q workqueue.TypedRateLimitingInterface[string], sync func(string) error, log *zap.Logger) {
	for {
		key, quit := q.Get()
		if quit {
			return
		}
		if err := sync(key); err != nil {
			log.Info("node sync failed; retrying", zap.String("node", key), zap.Error(err))
			q.AddRateLimited(key)
		} else {
			q.Forget(key)
		}
		q.Done(key)
	}
}

// leaderElect runs the member controller while this server holds the
// k3s-etcd lease, with wrangler's timing (pkg/leader/leader.go). As in
// wrangler, losing the lease ends the process.
func (c *nodeControllers) leaderElect(ctx context.Context) {
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, metav1.NamespaceSystem, etcdLeaseName,
		c.cs.CoreV1(), c.cs.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: c.s.cfg.NodeName})
	if err != nil {
		c.log.Error("creating the k3s-etcd lease lock", zap.Error(err))
		return
	}
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: 45 * time.Second, RenewDeadline: 30 * time.Second, RetryPeriod: 2 * time.Second,
		ReleaseOnCancel: true, Name: etcdLeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {
				c.log.Info("starting managed etcd member removal controller")
				runQueue(c.member, c.syncMember, c.log)
			},
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					c.log.Error("leaderelection lost", zap.String("lease", etcdLeaseName))
					os.Exit(1)
				}
			},
		},
	})
}

// syncMetadata is the metadata controller's handleSelf.
func (c *nodeControllers) syncMetadata(key string) error {
	m := c.s.member()
	if key != c.s.cfg.NodeName || m == nil {
		return nil
	}
	node, err := c.nodes.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if node.Annotations[nodeNameAnnotation] == m.name && node.Annotations[nodeAddressAnnotation] == m.address &&
		node.Labels[etcdRoleLabel] == "true" {
		return nil
	}
	node = node.DeepCopy()
	if node.Annotations == nil {
		node.Annotations = map[string]string{}
	}
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	node.Annotations[nodeNameAnnotation] = m.name
	node.Annotations[nodeAddressAnnotation] = m.address
	node.Labels[etcdRoleLabel] = "true"
	return c.update(node)
}

func (c *nodeControllers) update(node *corev1.Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.cs.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
	return err
}

// syncMember is wrangler's remove handler around the member controller:
// every live Node gets the finalizer and the OnChange sync; a deleted one
// gets onRemove, and the finalizer is dropped only once that succeeds.
func (c *nodeControllers) syncMember(key string) error {
	node, err := c.nodes.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if node.DeletionTimestamp != nil {
		if !slices.Contains(node.Finalizers, memberFinalizer) {
			return nil
		}
		if err := c.onRemove(node); err != nil {
			return err
		}
		node = node.DeepCopy()
		node.Finalizers = slices.DeleteFunc(node.Finalizers, func(f string) bool { return f == memberFinalizer })
		return c.update(node)
	}
	if !slices.Contains(node.Finalizers, memberFinalizer) {
		node = node.DeepCopy()
		node.Finalizers = append(node.Finalizers, memberFinalizer)
		return c.update(node) // the update brings the node back for the sync
	}
	return c.onChange(node)
}

// onChange handles etcd.k3s.cattle.io/remove (member_controller.go sync).
func (c *nodeControllers) onChange(node *corev1.Node) error {
	if _, ok := node.Labels[etcdRoleLabel]; !ok {
		return nil
	}
	requested, ok := node.Annotations[removalAnnotation]
	if !ok {
		return nil
	}
	name, ok := node.Annotations[nodeNameAnnotation]
	if !ok {
		return fmt.Errorf("node name annotation for node %s not found", node.Name)
	}
	address, ok := node.Annotations[nodeAddressAnnotation]
	if !ok {
		return fmt.Errorf("node address annotation for node %s not found", node.Name)
	}
	node = node.DeepCopy()
	if removed, ok := node.Annotations[removedNodeNameAnnotation]; ok {
		if removed == name {
			return nil
		}
		// re-added under a new member name: clear the removal
		delete(node.Annotations, removedNodeNameAnnotation)
		delete(node.Annotations, removalAnnotation)
		return c.update(node)
	}
	if strings.ToLower(requested) != "true" {
		return nil
	}
	c.log.Info("removing etcd member from cluster due to remove annotation", zap.String("name", name), zap.String("address", address))
	if err := c.removePeer(name, address); err != nil {
		if errors.Is(err, rpctypes.ErrMemberNotEnoughStarted) {
			c.log.Error("etcd member removal rejected, clearing remove annotation", zap.Error(err))
			delete(node.Annotations, removalAnnotation)
			return c.update(node)
		}
		return err
	}
	node.Annotations[removedNodeNameAnnotation] = name
	delete(node.Annotations, nodeNameAnnotation)
	delete(node.Annotations, nodeAddressAnnotation)
	return c.update(node)
}

// onRemove is member_controller.go onRemove.
func (c *nodeControllers) onRemove(node *corev1.Node) error {
	if _, ok := node.Labels[etcdRoleLabel]; !ok {
		return nil
	}
	if removed := node.Annotations[removedNodeNameAnnotation]; removed != "" {
		return nil
	}
	name, ok := node.Annotations[nodeNameAnnotation]
	if !ok {
		return fmt.Errorf("node name annotation for node %s not found", node.Name)
	}
	address, ok := node.Annotations[nodeAddressAnnotation]
	if !ok {
		return fmt.Errorf("node address annotation for node %s not found", node.Name)
	}
	c.log.Info("removing etcd member from cluster due to node delete", zap.String("name", name), zap.String("address", address))
	return c.removePeer(name, address)
}

// removePeer is ETCD.RemovePeer (pkg/etcd/etcd.go): the member whose name
// and peer-URL host both match.
func (c *nodeControllers) removePeer(name, address string) error {
	m := c.s.member()
	if m == nil {
		return errors.New("etcd datastore is not started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := m.cli.MemberList(ctx)
	if err != nil {
		return err
	}
	for _, mem := range list.Members {
		if mem.Name != name {
			continue
		}
		for _, p := range mem.PeerURLs {
			u, err := url.Parse(p)
			if err != nil {
				return err
			}
			if u.Hostname() != address {
				continue
			}
			c.log.Info("removing etcd member", zap.String("name", name), zap.String("id", fmt.Sprintf("%x", mem.ID)), zap.String("address", address))
			_, err = m.cli.MemberRemove(ctx, mem.ID)
			if errors.Is(err, rpctypes.ErrMemberNotFound) {
				return nil
			}
			return err
		}
	}
	return nil
}
