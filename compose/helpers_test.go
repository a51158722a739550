package compose

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// writeFiles creates files (relative name -> content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadFiles writes files into a fresh directory and loads the project from
// the named compose files there, with env as the whole process environment.
func loadFiles(t *testing.T, files map[string]string, opts Options) (*Project, string, error) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	if opts.Environ == nil {
		opts.Environ = []string{}
	}
	if len(opts.Files) == 0 {
		opts.Files = []string{"compose.yaml"}
	}
	opts.Files = inDir(dir, opts.Files)
	opts.EnvFiles = inDir(dir, opts.EnvFiles)
	p, err := Load(context.Background(), opts)
	return p, dir, err
}

// tarsDocs is the layout of TarsDocs installation/docker.md: mysql,
// framework and node on a bridge network with static addresses.
const tarsDocs = `version: "3"

services:
  mysql:
    image: mysql:5.6
    container_name: tars-mysql
    ports:
      - "3307:3306"
    restart: always
    environment:
      MYSQL_ROOT_PASSWORD: "123456"
    volumes:
      - ./mysql/data:/var/lib/mysql:rw
    networks:
      internal:
        ipv4_address: 172.25.1.2

  framework:
    image: tarscloud/framework:v3.0.15 # pinned by ops
    container_name: tars-framework
    ports:
      - "3000:3000"
    restart: always
    networks:
      internal:
        ipv4_address: 172.25.1.3
    environment:
      MYSQL_HOST: "172.25.1.2"
      MYSQL_ROOT_PASSWORD: "123456"
      MYSQL_USER: "root"
      MYSQL_PORT: 3306
      REBUILD: "false"
      INET: eth0
      SLAVE: "false"
    volumes:
      - ./framework/data:/data/tars:rw
    depends_on:
      - mysql

  node:
    image: tarscloud/tars-node:latest
    container_name: tars-node
    restart: always
    networks:
      internal:
        ipv4_address: 172.25.1.5
    volumes:
      - ./node/data:/data/tars:rw
    environment:
      INET: eth0
      WEB_HOST: "http://172.25.1.3:3000"
    ports:
      - "9000-9010:9000-9010"
    depends_on:
      - framework

networks:
  internal:
    driver: bridge
    ipam:
      config:
        - subnet: 172.25.0.0/16
`

// inDir joins dir to each relative name.
func inDir(dir string, names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, filepath.Join(dir, n))
	}
	return out
}
