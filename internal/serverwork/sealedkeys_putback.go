package serverwork

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// SealedKeysMarker is the ConfigMap in kube-system the backups node writes
// once it has compared its saved keys with the cluster's (and put them back
// if the cluster had none): until it exists, the apply holds back a
// sealed-secrets HelmChart not yet in the cluster (sealedSecretsGate).
// It is in etcd, so a cluster restored from a snapshot has it, and a
// rebuilt one does not.
const SealedKeysMarker = "nodeagent-sealed-keys"

// SealedSecretsController is the controller's Deployment, named by the
// fullnameOverride manifests renders.
const SealedSecretsController = "sealed-secrets-controller"

// restartedAtAnnotation, bumped on the controller's pod template, rolls its
// pods as `kubectl rollout restart` does: the controller reads its keys
// only when it starts.
const restartedAtAnnotation = "nodeagent.dev/sealed-keys-restored-at"

// PutBackResult is what one put-back did, by Secret name.
type PutBackResult struct {
	Created   []string
	Missing   []string
	Restarted bool
}

// PutBack creates the saved keys when the cluster holds none of them
// (DecidePutBack) and, if the controller already runs, restarts it so it
// loads them. A key whose name is taken meanwhile is not overwritten.
func PutBack(ctx context.Context, client kubernetes.Interface, saved, live []*corev1.Secret, namespace string, now time.Time, log *zap.Logger) (PutBackResult, error) {
	plan := DecidePutBack(saved, live, namespace)
	res := PutBackResult{Missing: plan.Missing}
	if len(plan.Missing) > 0 {
		log.Warn("saved sealed-secrets keys missing from a cluster that holds others: not put back (deleted by a person?)",
			zap.Strings("secrets", plan.Missing))
	}
	if len(plan.Create) == 0 {
		return res, nil
	}
	var errs []error
	for _, s := range plan.Create {
		s.ResourceVersion, s.UID = "", ""
		_, err := client.CoreV1().Secrets(namespace).Create(ctx, s, metav1.CreateOptions{FieldManager: "nodeagent"})
		switch {
		case apierrors.IsAlreadyExists(err):
			errs = append(errs, fmt.Errorf("putting back sealed-secrets key %s/%s: a different Secret of that name exists: left as it is", namespace, s.Name))
		case err != nil:
			errs = append(errs, fmt.Errorf("putting back sealed-secrets key %s/%s: %w", namespace, s.Name, withoutDetails(err)))
		default:
			log.Info("sealed-secrets key put back", zap.String("secret", namespace+"/"+s.Name))
			res.Created = append(res.Created, s.Name)
		}
	}
	if len(res.Created) > 0 {
		restarted, err := restartController(ctx, client, namespace, now)
		res.Restarted = restarted
		errs = append(errs, err)
		if restarted {
			log.Info("sealed-secrets controller restarted to load the keys put back")
		}
	}
	return res, errors.Join(errs...)
}

// restartController rolls the controller's pods when its Deployment
// exists; false when it does not (it loads the keys when it first starts).
func restartController(ctx context.Context, client kubernetes.Interface, namespace string, now time.Time) (bool, error) {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, restartedAtAnnotation, now.UTC().Format(time.RFC3339))
	_, err := client.AppsV1().Deployments(namespace).Patch(ctx, SealedSecretsController, types.StrategicMergePatchType, []byte(patch),
		metav1.PatchOptions{FieldManager: "nodeagent"})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("restarting %s/%s to load the keys put back: %w", namespace, SealedSecretsController, err)
	}
	return true, nil
}

// writeMarker records that node checked the keys: created once, and
// updated when keys were put back (so status can say when).
func writeMarker(ctx context.Context, client kubernetes.Interface, node string, now time.Time, saved int, put PutBackResult) error {
	data := map[string]string{
		"checkedBy": node, "checkedAt": now.UTC().Format(time.RFC3339),
		"saved": strconv.Itoa(saved), "putBack": strconv.Itoa(len(put.Created)),
	}
	cms := client.CoreV1().ConfigMaps("kube-system")
	cm, err := cms.Get(ctx, SealedKeysMarker, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: SealedKeysMarker, Namespace: "kube-system"}, Data: data},
			metav1.CreateOptions{FieldManager: "nodeagent"})
		if apierrors.IsAlreadyExists(err) {
			err = nil
		}
	case err == nil && len(put.Created) > 0:
		cm.Data = data
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "nodeagent"})
	}
	if err != nil {
		return fmt.Errorf("recording the sealed-secrets keys check (kube-system/%s): %w", SealedKeysMarker, err)
	}
	return nil
}

// withoutDetails keeps an apiserver refusal of a key Secret to its reason
// and code: the causes of an Invalid or BadRequest may quote the field
// values, the key itself.
func withoutDetails(err error) error {
	if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
		var code int32
		if st, ok := err.(apierrors.APIStatus); ok {
			code = st.Status().Code
		}
		return fmt.Errorf("refused by the apiserver: %s (HTTP %d)", apierrors.ReasonForError(err), code)
	}
	return err
}
