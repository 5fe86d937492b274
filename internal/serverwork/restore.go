package serverwork

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/quorum"
	"github.com/nodeagent/nodeagent/internal/restore"
)

// restoreWait bounds the wait for the restored etcd and API after k3s
// started again: a Pi replays the snapshot's data and starts every
// controller, which takes minutes.
const restoreWait = 10 * time.Minute

// etcdView is one etcd's cluster ID and member names, read through
// endpoint with this server's client certificate.
type etcdView struct {
	ClusterID uint64
	Members   []string
}

func readEtcdView(ctx context.Context, endpoint string, tlsCfg *tls.Config, log *zap.Logger) (etcdView, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{endpoint}, TLS: tlsCfg, DialTimeout: 3 * time.Second, MaxUnaryRetries: 1,
		Logger: log.Named("etcd-client").WithOptions(zap.IncreaseLevel(zapcore.ErrorLevel)),
	})
	if err != nil {
		return etcdView{}, err
	}
	defer cli.Close()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	// Linearizable: a member cut off from its cluster's majority does not
	// answer, so a stale view is never mistaken for the cluster's.
	resp, err := cli.MemberList(cctx)
	if err != nil {
		return etcdView{}, fmt.Errorf("etcd member list from %s: %w", endpoint, err)
	}
	v := etcdView{ClusterID: resp.Header.GetClusterId()}
	for _, m := range resp.Members {
		v.Members = append(v.Members, m.Name)
	}
	return v, nil
}

func (p *Work) etcdTLS() (*tls.Config, error) {
	return quorum.LoadClientTLS(p.cfg.Root.Path(orString(p.cfg.EtcdTLSDir, quorum.DefaultTLSDir)))
}

// RecordRestore waits until this server's etcd, just restored from
// snapshot, answers as a cluster of its own member and its API serves,
// then records the restore in kube-system/nodeagent-etcd-restore: what the
// other servers need to see before they move their data aside.
func (p *Work) RecordRestore(ctx context.Context, snapshot string, status func(string)) (restore.Record, error) {
	tlsCfg, err := p.etcdTLS()
	if err != nil {
		return restore.Record{}, err
	}
	member := k3s.EtcdName(p.cfg.Root)
	endpoint := orString(p.cfg.EtcdEndpoint, quorum.DefaultEndpoint)
	status("waiting for the restored etcd to answer on " + endpoint)
	var view etcdView
	err = host.PollUntil(ctx, p.cfg.Clock, "the restored etcd", restoreWait, 2*time.Second, func(ctx context.Context) (bool, error) {
		v, err := readEtcdView(ctx, endpoint, tlsCfg, p.log)
		if err != nil {
			return false, err
		}
		if len(v.Members) != 1 || (member != "" && v.Members[0] != member) {
			return false, fmt.Errorf("etcd members %v, want only %s", v.Members, member)
		}
		view = v
		return true, nil
	})
	if err != nil {
		return restore.Record{}, err
	}
	rec := restore.Record{Node: p.cfg.Node.Name, Snapshot: snapshot, Time: p.cfg.Clock.Now().UTC().Truncate(time.Second),
		ClusterID: view.ClusterID, Member: view.Members[0]}
	client, err := p.clientset()
	if err != nil {
		return rec, err
	}
	status(fmt.Sprintf("recording the restore in kube-system/%s (etcd cluster %x)", restore.RecordName, rec.ClusterID))
	err = host.PollUntil(ctx, p.cfg.Clock, "the restore record", restoreWait, 2*time.Second, func(ctx context.Context) (bool, error) {
		err := writeRecord(ctx, client, rec)
		return err == nil, err
	})
	if err != nil {
		return rec, err
	}
	p.log.Info("restore recorded", zap.String("snapshot", snapshot), zap.String("etcd_cluster", fmt.Sprintf("%x", rec.ClusterID)),
		zap.String("member", rec.Member))
	return rec, nil
}

func writeRecord(ctx context.Context, client kubernetes.Interface, rec restore.Record) error {
	cms := client.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	cm, err := cms.Get(ctx, restore.RecordName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: restore.RecordName, Labels: map[string]string{"app.kubernetes.io/managed-by": "nodeagent"}},
			Data:       rec.Data(),
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	cm.Data = rec.Data()
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// apiURL is another server's API (k3s serves it on the supervisor port).
func apiURL(addr, port string) string { return "https://" + net.JoinHostPort(addr, port) }
