package apply

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

// chartFixture is a chart as k3s would leave it: a HelmChart in
// kube-system, its install Job (no job controller runs: the test sets the
// Job's status) and a CRD of the kinds it brings, in a group of the test's
// own so a webhook on it touches no other test.
type chartFixture struct {
	srv   *apiserver.Server
	ns    string
	group string
	chart types.NamespacedName
}

func newChartFixture(t *testing.T, srv *apiserver.Server) *chartFixture {
	t.Helper()
	crds, err := os.ReadFile("testdata/chart-crds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ns := uniqueName(t, srv)
	f := &chartFixture{srv: srv, ns: ns, group: ns + ".metallb.io",
		chart: types.NamespacedName{Namespace: "kube-system", Name: "mlb-" + ns}}
	srv.InstallCRDs(t, crds, []byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ipaddresspools.`+f.group+`}
spec:
  group: `+f.group+`
  names: {kind: IPAddressPool, listKind: IPAddressPoolList, plural: ipaddresspools, singular: ipaddresspool}
  scope: Namespaced
  versions:
  - name: v1beta1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`))
	hc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
		"metadata": map[string]any{"name": f.chart.Name, "namespace": f.chart.Namespace},
		"spec":     map[string]any{"chart": "metallb", "repo": "https://metallb.github.io/metallb", "version": "0.15.2"},
	}}
	dyn, err := dynamic.NewForConfig(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(helmChartResource).Namespace(f.chart.Namespace).Create(context.Background(), hc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *chartFixture) engine(t *testing.T, timeout time.Duration) *Engine {
	return testEngine(t, f.srv, "inv-"+f.ns, Options{KindTimeout: timeout,
		Charts: map[string]types.NamespacedName{f.group: f.chart}})
}

// pools are IPAddressPools of the fixture's group, by name.
func (f *chartFixture) pools(t *testing.T, names ...string) []*unstructured.Unstructured {
	var docs []string
	for _, n := range names {
		docs = append(docs, `apiVersion: `+f.group+`/v1beta1
kind: IPAddressPool
metadata: {name: `+n+`, namespace: NS}
spec: {addresses: ["10.0.0.240-10.0.0.250"]}`)
	}
	return objects(t, f.ns, strings.Join(docs, "\n---\n"))
}

func (f *chartFixture) poolKey(name string) string { return "IPAddressPool/" + f.ns + "/" + name }

// installJob creates the chart's install Job for version, as helm-controller
// makes it (the VERSION env), and sets its status: complete or still running.
func (f *chartFixture) installJob(t *testing.T, version string, complete bool) {
	t.Helper()
	ctx := context.Background()
	jobs := f.srv.Client().BatchV1().Jobs(f.chart.Namespace)
	bg := metav1.DeletePropagationBackground // no garbage collector to take an orphan finalizer off
	err := jobs.Delete(ctx, installJobName(f.chart.Name), metav1.DeleteOptions{PropagationPolicy: &bg})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	f.waitJobGone(t)
	job, err := jobs.Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: installJobName(f.chart.Name)},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyOnFailure,
			Containers: []corev1.Container{{Name: "helm", Image: "rancher/klipper-helm:v0.9.8",
				Env: []corev1.EnvVar{{Name: "VERSION", Value: version}, {Name: "REPO", Value: "https://metallb.github.io/metallb"}}}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	job.Status.StartTime = &now
	if complete {
		job.Status.CompletionTime = &now
		job.Status.Succeeded = 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
	} else {
		job.Status.Active = 1
	}
	if _, err := jobs.UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (f *chartFixture) waitJobGone(t *testing.T) {
	t.Helper()
	jobs := f.srv.Client().BatchV1().Jobs(f.chart.Namespace)
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := jobs.Get(ctx, installJobName(f.chart.Name), metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("install job still there: %v", err)
	}
}

func checkPending(t *testing.T, r *Report, key, reason string) {
	t.Helper()
	for _, res := range r.Results {
		if res.Key != key {
			continue
		}
		if res.Outcome != Pending || !strings.Contains(res.Reason, reason) {
			t.Errorf("%s: %s (%s), want pending with %q", key, res.Outcome, res.Reason, reason)
		}
		return
	}
	t.Errorf("%s not in the report", key)
}

// TestChartResourcesWaitForInstallJob: a pool is not applied while its
// chart's install Job is missing, running or made for another version,
// and is applied once the Job for the chart's version completed.
func TestChartResourcesWaitForInstallJob(t *testing.T) {
	srv := kube.Get(t)
	f := newChartFixture(t, srv)
	e := f.engine(t, 300*time.Millisecond)
	set := append(objects(t, f.ns, "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS}"), f.pools(t, "lan")...)
	jobKey := "kube-system/" + installJobName(f.chart.Name)
	dyn, err := dynamic.NewForConfig(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}

	for _, step := range []struct {
		name   string
		setup  func()
		reason string
	}{
		{"no job", func() {}, "waiting for chart " + f.chart.Name + "'s install job " + jobKey + " to be created"},
		{"job running", func() { f.installJob(t, "0.15.2", false) }, "install job " + jobKey + " to finish"},
		{"job of the old version", func() { f.installJob(t, "0.14.9", true) }, `to be replaced: it has VERSION="0.14.9"`},
	} {
		step.setup()
		r := mustApply(t, e, set)
		checkPending(t, r, f.poolKey("lan"), step.reason)
		if r.Waited < 300*time.Millisecond {
			t.Errorf("%s: waited %s, want the KindTimeout at least", step.name, r.Waited)
		}
		if _, err := dyn.Resource(poolResource(f.group)).Namespace(f.ns).Get(context.Background(), "lan", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("%s: the pool was applied before the chart was installed", step.name)
		}
	}

	f.installJob(t, "0.15.2", true)
	r := mustApply(t, e, set)
	checkOutcomes(t, r, map[string]Outcome{"Namespace//" + f.ns: Unchanged, f.poolKey("lan"): Created})
}

// webhook is a real admission webhook on 127.0.0.1 behind TLS with a CA
// of the test's own. Until start it does not listen (connection refused,
// what a chart whose controller is not ready looks like); then it denies
// pools named "bad" with "bad pool" and admits the rest.
type webhook struct {
	addr   string
	caPEM  []byte
	cert   tls.Certificate
	server *http.Server
}

func newWebhook(t *testing.T) *webhook {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "webhook-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	// A free port, closed again: nothing listens there until start.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return &webhook{addr: addr, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

func (w *webhook) start(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", w.addr)
	if err != nil {
		t.Fatal(err)
	}
	w.server = &http.Server{Handler: http.HandlerFunc(review), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := w.server.Serve(tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{w.cert}})); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("webhook: %v", err)
		}
	}()
	t.Cleanup(func() { w.server.Close() })
}

func review(rw http.ResponseWriter, req *http.Request) {
	var ar admissionv1.AdmissionReview
	if err := json.NewDecoder(req.Body).Decode(&ar); err != nil || ar.Request == nil {
		http.Error(rw, "bad review", http.StatusBadRequest)
		return
	}
	resp := &admissionv1.AdmissionResponse{UID: ar.Request.UID, Allowed: ar.Request.Name != "bad"}
	if !resp.Allowed {
		resp.Result = &metav1.Status{Message: "bad pool", Code: http.StatusForbidden}
	}
	ar.Response, ar.Request = resp, nil
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(&ar)
}

// register adds a ValidatingWebhookConfiguration with failurePolicy Fail
// for the fixture's pools and waits until the apiserver calls it (it reads
// webhook configurations through an informer).
func (w *webhook) register(t *testing.T, f *chartFixture) string {
	t.Helper()
	name := "ipaddresspoolvalidationwebhook." + f.group
	fail, none := admissionregv1.Fail, admissionregv1.SideEffectClassNone
	url := "https://" + w.addr + "/validate-ipaddresspool"
	ctx := context.Background()
	_, err := f.srv.Client().AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx,
		&admissionregv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: f.ns},
			Webhooks: []admissionregv1.ValidatingWebhook{{
				Name:                    name,
				ClientConfig:            admissionregv1.WebhookClientConfig{URL: &url, CABundle: w.caPEM},
				Rules:                   []admissionregv1.RuleWithOperations{{Operations: []admissionregv1.OperationType{admissionregv1.Create, admissionregv1.Update}, Rule: admissionregv1.Rule{APIGroups: []string{f.group}, APIVersions: []string{"*"}, Resources: []string{"ipaddresspools"}}}},
				FailurePolicy:           &fail,
				SideEffects:             &none,
				AdmissionReviewVersions: []string{"v1"},
			}},
		}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = f.srv.Client().AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), f.ns, metav1.DeleteOptions{})
	})
	dyn, err := dynamic.NewForConfig(f.srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	// The probe goes to the namespace uniqueName made (f.ns without "na-"):
	// f.ns itself comes with the apply, and admission first checks that the
	// namespace exists.
	probe := f.pools(t, "bad")[0]
	probe.SetNamespace(strings.TrimPrefix(f.ns, "na-"))
	ri := dyn.Resource(poolResource(f.group)).Namespace(probe.GetNamespace())
	var last error
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, last = ri.Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return last != nil && strings.Contains(last.Error(), name), nil
	})
	if err != nil {
		t.Fatalf("webhook %s not called: %v", name, last)
	}
	return name
}

func poolResource(group string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: "v1beta1", Resource: "ipaddresspools"}
}

// TestChartWebhookNotReadyIsPending: while the chart's webhook refuses
// connections the pools are pending, waiting for it, not failed; once it
// answers they are applied, and the pool it denies fails with its message.
func TestChartWebhookNotReadyIsPending(t *testing.T) {
	srv := kube.Get(t)
	f := newChartFixture(t, srv)
	f.installJob(t, "0.15.2", true)
	hook := newWebhook(t)
	name := hook.register(t, f)
	e := f.engine(t, 300*time.Millisecond)
	set := append(objects(t, f.ns, "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS}"), f.pools(t, "lan", "bad")...)

	r := mustApply(t, e, set)
	want := "waiting for chart " + f.chart.Name + "'s webhook " + name
	checkPending(t, r, f.poolKey("lan"), want)
	checkPending(t, r, f.poolKey("bad"), want)
	if r.Err() != nil {
		t.Errorf("a webhook not answering yet is an error: %v", r.Err())
	}
	if r.Waited < 300*time.Millisecond {
		t.Errorf("waited %s, want the KindTimeout at least", r.Waited)
	}

	hook.start(t)
	r = mustApply(t, e, set)
	checkOutcomes(t, r, map[string]Outcome{"Namespace//" + f.ns: Unchanged, f.poolKey("lan"): Created, f.poolKey("bad"): Failed})
	for _, res := range r.Results {
		if res.Key == f.poolKey("bad") && !strings.Contains(res.Reason, `admission webhook "`+name+`" denied the request: bad pool`) {
			t.Errorf("denied pool's reason = %q, want the webhook's message", res.Reason)
		}
	}
}
