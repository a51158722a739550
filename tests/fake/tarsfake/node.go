package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// runNode plays the tarscloud/tars-node entrypoint: it downloads tarsnode from
// the framework's web on every start and only then serves NodeObj on 19385,
// registering with a registry and heartbeating to it meanwhile.
func runNode(ctx context.Context, k knobs) error {
	web := strings.TrimRight(os.Getenv("WEB_HOST"), "/")
	if web == "" {
		return errors.New("WEB_HOST is not set: a node needs http://<framework>:3000")
	}
	ip := nodeIP()
	if ip == "" {
		return errors.New("eth0 has no IPv4 address and neither DOMAIN nor TARS_DOMAIN is set")
	}
	log.Printf("starting: version=%s ip=%s WEB_HOST=%s", k.version, ip, web)

	var locator string
	for attempt := 0; ; attempt++ {
		var err error
		locator, err = fetchTarsnode(ctx, web, ip)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt%5 == 0 {
			log.Printf("waiting for the framework web: %v", err)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	log.Printf("downloaded tarsnode from %s; locator %s", web, locator)
	hb := &heartbeater{
		ip:       ip,
		version:  k.version,
		env:      envRegistries(os.Getenv("TARS_REGISTRY_ADDRESS")),
		interval: envDurationOr("FAKE_HEARTBEAT_INTERVAL", 2*time.Second),
		once:     os.Getenv("FAKE_NO_HEARTBEAT") == "true",
	}
	hb.setRegistries(parseLocator(locator))
	return serveRole(ctx, k, func(ctx context.Context) error {
		go hb.run(ctx)
		return listenAndDrop(ctx, ":19385")
	})
}

// nodeIP is the IP the node registers with: FAKE_REGISTER_IP (a test's "came
// back with another IP"), DOMAIN, TARS_DOMAIN or eth0's address.
func nodeIP() string {
	for _, v := range []string{"FAKE_REGISTER_IP", "DOMAIN", "TARS_DOMAIN"} {
		if ip := os.Getenv(v); ip != "" {
			return ip
		}
	}
	// The node image reads eth0 only; INET is ignored there (TARS.md).
	return interfaceIPv4("eth0")
}

// fetchTarsnode does the two requests the real entrypoint makes, keeps the
// package under /data/tars, where the real node unpacks it, and returns the
// registry locator the installer names ("" when it names none).
func fetchTarsnode(ctx context.Context, web, ip string) (string, error) {
	script, err := httpGet(ctx, web+"/get_tarsnode?ip="+url.QueryEscape(ip))
	if err != nil {
		return "", err
	}
	body, err := httpGet(ctx, web+"/files/tarsnode.tgz")
	if err != nil {
		return "", err
	}
	dir := "/data/tars/tarsnode-data"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tarsnode.tgz"), body, 0o644); err != nil {
		return "", fmt.Errorf("save tarsnode.tgz: %w", err)
	}
	return locatorLine(string(script)), nil
}

// locatorLine returns the value of the first "locator=" line of text.
func locatorLine(text string) string {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "locator="); ok {
			return v
		}
	}
	return ""
}

// envRegistries reads TARS_REGISTRY_ADDRESS (ip:port;ip:port; a bare IP
// means port 17890).
func envRegistries(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ";") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !strings.Contains(p, ":") {
			p = fmt.Sprintf("%s:%d", p, registryPort)
		}
		out = append(out, p)
	}
	return out
}

func httpGet(ctx context.Context, u string) ([]byte, error) {
	return httpDo(ctx, http.MethodGet, u)
}

// httpDo makes one request with a 5 s bound and returns the body of a 200;
// another status is an *httpStatus error.
func httpDo(ctx context.Context, method, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &httpStatus{code: resp.StatusCode, msg: fmt.Sprintf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(body)))}
	}
	return body, nil
}

// httpStatus is a response other than 200.
type httpStatus struct {
	code int
	msg  string
}

func (e *httpStatus) Error() string { return e.msg }
