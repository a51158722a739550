package testbed

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSFiles are the PEM files a client needs for an engine's TLS listener, laid
// out as the docker CLI expects under DOCKER_CERT_PATH (Dir): ca.pem, cert.pem,
// key.pem.
type TLSFiles struct {
	Dir  string
	CA   string
	Cert string
	Key  string
}

// serverTLS are the files the daemon itself uses.
type serverTLS struct {
	CA, Cert, Key string
}

// makeCerts writes a fresh CA, a server certificate for ip (and localhost) and
// a client certificate under dir: dir/client holds the client's files and
// dir/server the daemon's.
func makeCerts(dir string, ip net.IP) (*TLSFiles, *serverTLS, error) {
	clientDir, serverDir := filepath.Join(dir, "client"), filepath.Join(dir, "server")
	for _, d := range []string{clientDir, serverDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, nil, fmt.Errorf("make certificates: %w", err)
		}
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("make CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tarsup test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("make CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA certificate: %w", err)
	}

	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP, dns []string) (certPEM, keyPEM []byte, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("make %s key: %w", cn, err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(7 * 24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
			DNSNames:     dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, fmt.Errorf("make %s certificate: %w", cn, err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, nil, fmt.Errorf("encode %s key: %w", cn, err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
	}
	srvCert, srvKey, err := leaf(2, "tarsup test engine "+ip.String(), x509.ExtKeyUsageServerAuth,
		[]net.IP{ip, net.IPv4(127, 0, 0, 1)}, []string{"localhost"})
	if err != nil {
		return nil, nil, err
	}
	cliCert, cliKey, err := leaf(3, "tarsup test client", x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})

	cli := &TLSFiles{Dir: clientDir, CA: filepath.Join(clientDir, "ca.pem"), Cert: filepath.Join(clientDir, "cert.pem"), Key: filepath.Join(clientDir, "key.pem")}
	srv := &serverTLS{CA: filepath.Join(serverDir, "ca.pem"), Cert: filepath.Join(serverDir, "cert.pem"), Key: filepath.Join(serverDir, "key.pem")}
	for path, data := range map[string][]byte{
		cli.CA: caPEM, cli.Cert: cliCert, cli.Key: cliKey,
		srv.CA: caPEM, srv.Cert: srvCert, srv.Key: srvKey,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	return cli, srv, nil
}
