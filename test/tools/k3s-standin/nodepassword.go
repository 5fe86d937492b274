package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/scrypt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Node passwords, as k3s's pkg/nodepassword: the server keeps the scrypt
// hash of each agent's /etc/rancher/node/password in the immutable Secret
// kube-system/<node>.node-password.k3s (type k3s.cattle.io/node-password,
// key "hash"), made on the node's first certificate request; a later
// request with another password is refused. So a re-flashed agent is
// refused until that Secret is gone (the garbage collector removes it with
// its Node, through the owner reference nodepasswordOwner adds).
const nodePasswordSecretType = corev1.SecretType("k3s.cattle.io/node-password")

// errNodePasswordVerify is k3s's ErrVerifyFailed: the Secret could not be
// read or does not match (k3s wraps every failure of verifyHash). The
// handler answers 403 for it.
var errNodePasswordVerify = errors.New("unable to verify node password")

var errHashMismatch = errors.New("hash does not match")

func nodePasswordSecretName(node string) string {
	return strings.ToLower(node + ".node-password.k3s")
}

// k3s's pkg/authenticator/hash SCrypt: "$1:<salt hex>:<N>:<r>:<p>:<key b64>"
// with N=15 (as a power of two), r=8, p=1, a 64-byte key and an 8-byte salt.
const scryptFormat = "$%d:%x:%d:%d:%d:%s"

func hashNodePassword(pass string) (string, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	dk, err := scrypt.Key([]byte(pass), salt, 1<<15, 8, 1, 64)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(scryptFormat, 1, salt, 15, 8, 1, base64.RawStdEncoding.EncodeToString(dk)), nil
}

func verifyNodePassword(hash, pass string) error {
	var (
		version, n uint
		r, p       int
		salt       []byte
		enc        string
	)
	if _, err := fmt.Sscanf(hash, scryptFormat, &version, &salt, &n, &r, &p, &enc); err != nil {
		return fmt.Errorf("parsing node password hash: %w", err)
	}
	if version != 1 {
		return fmt.Errorf("hash version %d does not match package version 1", version)
	}
	dk, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		return fmt.Errorf("decoding node password hash: %w", err)
	}
	got, err := scrypt.Key([]byte(pass), salt, 1<<n, r, p, len(dk))
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(dk, got) != 1 {
		return errHashMismatch
	}
	return nil
}

// ensureNodePassword is k3s's nodepassword ensure: verify the Secret if it
// exists, else create it. The error names the node, never the password.
func ensureNodePassword(ctx context.Context, cs kubernetes.Interface, node, pass string) error {
	secrets := cs.CoreV1().Secrets(metav1.NamespaceSystem)
	verify := func() error {
		s, err := secrets.Get(ctx, nodePasswordSecretName(node), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return err
		}
		if err == nil {
			if h, ok := s.Data["hash"]; !ok {
				err = errors.New("password hash not found in node secret")
			} else {
				err = verifyNodePassword(string(h), pass)
			}
		}
		if err != nil {
			return fmt.Errorf("%w: unable to verify password for node %s: %w", errNodePasswordVerify, node, err)
		}
		return nil
	}
	if err := verify(); !apierrors.IsNotFound(err) {
		return err
	}
	hash, err := hashNodePassword(pass)
	if err != nil {
		return fmt.Errorf("%w: unable to verify password for node %s: %w", errNodePasswordVerify, node, err)
	}
	_, err = secrets.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: nodePasswordSecretName(node), Namespace: metav1.NamespaceSystem},
		Immutable:  ptr.To(true),
		Data:       map[string][]byte{"hash": []byte(hash)},
		Type:       nodePasswordSecretType,
	}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return verify()
	}
	return err
}
