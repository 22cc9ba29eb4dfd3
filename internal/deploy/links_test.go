package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDocsLinkInsideTheRepo: the README and docs/ link only to files of the
// repository that exist (no contract kept outside it), and the contract
// file is there.
func TestDocsLinkInsideTheRepo(t *testing.T) {
	root := repoRoot(t)
	require.FileExists(t, filepath.Join(root, "docs", "contract.md"))
	files := []string{filepath.Join(root, "README.md"), filepath.Join(root, "BENCHMARKS.md")}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	files = append(files, docs...)
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	var checked int
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		text := string(b)
		rel, _ := filepath.Rel(root, f)
		require.NotContains(t, text, "DESIGN.md", "%s names a file outside the repository", rel)
		require.NotContains(t, text, "../shared", "%s names a file outside the repository", rel)
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			path := filepath.Clean(filepath.Join(filepath.Dir(f), target))
			inside, err := filepath.Rel(root, path)
			require.NoError(t, err)
			require.False(t, strings.HasPrefix(inside, ".."), "%s links outside the repository: %s", rel, m[1])
			_, err = os.Stat(path)
			require.NoError(t, err, "%s links to a missing file: %s", rel, m[1])
			checked++
		}
	}
	require.Greater(t, checked, 20, "links found")
}
