package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Images the lab loads into every node's containerd; there is no registry, so pods
// use them with imagePullPolicy: Never. Each is one static binary at /labimg.
const (
	EchoImage    = "lab.local/echo:v1"          // lab/cmd/lab-echo: args name the listeners
	ClientImage  = "lab.local/client:v1"        // lab/cmd/lab-client: waits; exec it to connect
	CoreDNSImage = "lab.local/coredns:v1.15.0"  // CoreDNS built by lab/build.sh dataplane
	PauseImage   = "registry.k8s.io/pause:3.10" // lab/cmd/lab-pause, the sandbox image containerd pins
	// ImageBinary is the path of the program in every lab image.
	ImageBinary = "/labimg"
)

// image is one image to put in the archive: a tag and the binary it runs.
type image struct {
	tag, binary string
}

// buildImages compiles the lab's own programs from the lab module and writes one
// docker-archive tarball holding every image, for ctr images import.
func (c *Cluster) buildImages(ctx context.Context) (string, error) {
	dir := filepath.Join(c.Dir, "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	progs := map[string]string{"lab-echo": "", "lab-client": "", "lab-pause": ""}
	for p := range progs {
		out := filepath.Join(dir, p)
		cmd := []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", out, "reach/lab/cmd/" + p}
		if _, err := runIn(ctx, c.moduleDir, []string{"CGO_ENABLED=0"}, "go", cmd...); err != nil {
			return "", fmt.Errorf("build %s: %w", p, err)
		}
		progs[p] = out
	}
	imgs := []image{
		{EchoImage, progs["lab-echo"]},
		{ClientImage, progs["lab-client"]},
		{PauseImage, progs["lab-pause"]},
		{CoreDNSImage, c.bin("coredns")},
	}
	archive := filepath.Join(dir, "images.tar")
	if err := writeArchive(archive, imgs); err != nil {
		return "", fmt.Errorf("write image archive: %w", err)
	}
	return archive, nil
}

// writeArchive writes a docker-archive (docker save format) with one single-layer
// image for each entry.
func writeArchive(path string, imgs []image) error {
	var files []tarFile
	type manifestEntry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var manifest []manifestEntry
	for _, img := range imgs {
		bin, err := os.ReadFile(img.binary)
		if err != nil {
			return err
		}
		var layer bytes.Buffer
		tw := tar.NewWriter(&layer)
		if err := tw.WriteHeader(&tar.Header{Name: ImageBinary[1:], Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(bin); err != nil {
			return err
		}
		if err := tw.Close(); err != nil {
			return err
		}
		diff := sha256.Sum256(layer.Bytes())
		diffID := "sha256:" + hex.EncodeToString(diff[:])
		cfg, err := json.Marshal(map[string]any{
			"architecture": "amd64",
			"os":           "linux",
			"config":       map[string]any{"Entrypoint": []string{ImageBinary}},
			"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		})
		if err != nil {
			return err
		}
		cfgSum := sha256.Sum256(cfg)
		cfgName := hex.EncodeToString(cfgSum[:]) + ".json"
		layerName := hex.EncodeToString(diff[:]) + "/layer.tar"
		files = append(files, tarFile{cfgName, cfg}, tarFile{layerName, layer.Bytes()})
		manifest = append(manifest, manifestEntry{Config: cfgName, RepoTags: []string{img.tag}, Layers: []string{layerName}})
	}
	m, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	files = append(files, tarFile{"manifest.json", m})

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, tf := range files {
		if err := tw.WriteHeader(&tar.Header{Name: tf.name, Mode: 0o644, Size: int64(len(tf.data)), Typeflag: tar.TypeReg}); err != nil {
			f.Close()
			return err
		}
		if _, err := tw.Write(tf.data); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type tarFile struct {
	name string
	data []byte
}
