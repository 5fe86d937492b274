package serverwork

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
	"github.com/nodeagent/nodeagent/internal/quorum"
	"github.com/nodeagent/nodeagent/internal/restore"
)

// restoreWait bounds the wait for the restored etcd and API after k3s
// started again: a Pi replays the snapshot's data and starts every
// controller, which takes minutes.
const restoreWait = 10 * time.Minute

// etcdView is one etcd's cluster ID, member names and the restore record
// it holds.
type etcdView struct {
	ClusterID uint64
	Members   []string
	Record    *restore.Record
	RecordErr error
}

// recordKey is where the kube-apiserver keeps the restore record in etcd
// (its default --etcd-prefix /registry, which k3s keeps): read there, the
// record needs no API server, which a server cut off from its cluster's
// majority does not have.
const recordKey = "/registry/configmaps/kube-system/" + restore.RecordName

// readEtcdView reads endpoint's etcd with this server's client
// certificate. serializable: answered by that member alone, also without
// quorum (this server's own etcd); otherwise linearizable, so a member cut
// off from its cluster's majority does not answer for it.
func readEtcdView(ctx context.Context, endpoint string, tlsCfg *tls.Config, log *zap.Logger, serializable bool) (etcdView, error) {
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
	var listOpts []clientv3.OpOption
	getOpts := []clientv3.OpOption{}
	if serializable {
		listOpts = append(listOpts, clientv3.WithSerializable())
		getOpts = append(getOpts, clientv3.WithSerializable())
	}
	resp, err := cli.MemberList(cctx, listOpts...)
	if err != nil {
		return etcdView{}, fmt.Errorf("etcd member list from %s: %w", endpoint, err)
	}
	v := etcdView{ClusterID: resp.Header.GetClusterId()}
	for _, m := range resp.Members {
		v.Members = append(v.Members, m.Name)
	}
	got, err := cli.Get(cctx, recordKey, getOpts...)
	switch {
	case err != nil:
		v.RecordErr = fmt.Errorf("reading %s from %s: %w", recordKey, endpoint, err)
	case len(got.Kvs) > 0:
		v.Record, v.RecordErr = decodeRecord(got.Kvs[0].Value)
	}
	return v, nil
}

// decodeRecord decodes the ConfigMap as the kube-apiserver stored it
// (protobuf with its "k8s\x00" prefix, or JSON).
func decodeRecord(data []byte) (*restore.Record, error) {
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decoding the restore record: %w", err)
	}
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return nil, fmt.Errorf("the restore record is a %T, not a ConfigMap", obj)
	}
	r, err := restore.RecordFromData(cm.Data)
	if err != nil {
		return nil, err
	}
	return &r, nil
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
		v, err := readEtcdView(ctx, endpoint, tlsCfg, p.log, false)
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
