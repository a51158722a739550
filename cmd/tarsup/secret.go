package main

import (
	"fmt"
	"os"
	"strings"
)

// readSecret reads a one-line secret from a file.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usageError{fmt.Errorf("read secret %s: %w", path, err)}
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", usageError{fmt.Errorf("secret file %s is empty", path)}
	}
	return s, nil
}
