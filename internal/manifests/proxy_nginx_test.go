package manifests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/config"
)

// nginxBinary finds a real nginx (Debian's nginx-core); tests that need one
// skip without it.
func nginxBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("nginx is not installed (Debian package nginx-core)")
	return ""
}

// The rendered configuration runs in a real nginx, inside an http block
// like npm's: the redirect, the proxying with websocket headers, and a
// certificate replaced on disk (as the kubelet does after a cert-manager
// renewal) served at the next handshake without a reload.
func TestProxyConfigWithRealNginx(t *testing.T) {
	bin := nginxBinary(t)
	if os.Geteuid() != 0 {
		t.Skip("nginx's master needs root to run workers as root, as npm's does")
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host=%s upgrade=%s connection=%s proto=%s", r.Host, r.Header.Get("Upgrade"), r.Header.Get("Connection"), r.Header.Get("X-Forwarded-Proto"))
	}))
	defer backend.Close()

	c := homelab(t)
	c.Proxy.Hosts = []config.ProxyHost{{Host: "photos.home", To: backend.URL, TLS: new(true), Websockets: new(true)}}
	conf, err := ProxyConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	httpPort, httpsPort := freePort(t), freePort(t)
	conf = strings.ReplaceAll(conf, ProxyTLSDir, filepath.Join(dir, "tls"))
	conf = strings.ReplaceAll(conf, "listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort))
	conf = strings.ReplaceAll(conf, "listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl;", httpsPort))
	// The ConfigMap's layout (the key a link into ..data) behind the line
	// the init container writes into npm's custom/http.conf.
	cmDir := filepath.Join(dir, "configmap")
	write(t, filepath.Join(cmDir, "..data", ProxyConfigKey), conf)
	if err := os.Symlink(filepath.Join("..data", ProxyConfigKey), filepath.Join(cmDir, ProxyConfigKey)); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "custom", "http.conf"), strings.ReplaceAll(proxyIncludeLine, ProxyConfigDir, cmDir)+"\n")
	certDir := filepath.Join(dir, "tls", "photos.home")
	first := writeCert(t, certDir, "photos.home")
	write(t, filepath.Join(dir, "nginx.conf"), fmt.Sprintf(`daemon off;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    resolver 127.0.0.1;
    include %[1]s/custom/http[.]conf;
}
`, dir))

	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", filepath.Join(dir, "nginx.conf")).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})

	if got := servedSerial(t, httpsPort, 10*time.Second); got.Cmp(first) != 0 {
		t.Fatalf("served certificate serial %v, want %v", got, first)
	}
	renewed := writeCert(t, certDir, "photos.home")
	if got := servedSerial(t, httpsPort, 10*time.Second); got.Cmp(renewed) != 0 {
		t.Errorf("after the renewal nginx serves serial %v, want the new %v without a reload", got, renewed)
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/album?id=1", httpPort), nil)
	req.Host = "photos.home"
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || loc != "https://photos.home/album?id=1" {
		t.Errorf("http answers %d Location %q, want 301 to https://photos.home/album?id=1", resp.StatusCode, loc)
	}

	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: "photos.home", InsecureSkipVerify: true}}}
	req, _ = http.NewRequest("GET", fmt.Sprintf("https://127.0.0.1:%d/", httpsPort), nil)
	req.Host = "photos.home"
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	resp, err = tlsClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 512)
	n, _ := resp.Body.Read(body)
	resp.Body.Close()
	if want := "host=photos.home upgrade=websocket connection=upgrade proto=https"; string(body[:n]) != want {
		t.Errorf("backend saw %q, want %q", body[:n], want)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".new", []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// writeCert writes a fresh self-signed certificate for host as cert-manager's
// Secret holds it (tls.crt, tls.key) and returns its serial.
func writeCert(t *testing.T, dir, host string) *big.Int {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "tls.key"), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	write(t, filepath.Join(dir, "tls.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return serial
}

// servedSerial handshakes with SNI photos.home until nginx answers or the
// deadline passes, and returns the serial of the served certificate.
func servedSerial(t *testing.T, port int, wait time.Duration) *big.Int {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{ServerName: "photos.home", InsecureSkipVerify: true})
		if err == nil {
			defer conn.Close()
			return conn.ConnectionState().PeerCertificates[0].SerialNumber
		}
		if time.Now().After(deadline) {
			t.Fatalf("no TLS handshake with nginx within %v: %v", wait, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
