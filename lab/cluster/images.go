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
// use them with imagePullPolicy: Never. Each runs one static binary at /labimg; the
// images that run workloads (echo, client) also hold the lab's client at /probe.
const (
	EchoImage    = "lab.local/echo:v1"          // lab/cmd/lab-echo: args name the listeners
	ClientImage  = "lab.local/client:v1"        // lab/cmd/lab-client: waits; exec it to connect
	CoreDNSImage = "lab.local/coredns:v1.15.0"  // CoreDNS built by lab/build.sh dataplane
	PauseImage   = "registry.k8s.io/pause:3.10" // lab/cmd/lab-pause, the sandbox image containerd pins
	// KubeProxyImage and KubeRouterImage are lab/cmd/lab-hostexec, which runs the
	// host's kube-proxy or kube-router (its arguments) inside the pod.
	KubeProxyImage  = "lab.local/kube-proxy:v1.37.2"
	KubeRouterImage = "lab.local/kube-router:v2.1.0"
	// ImageBinary is the path of the program in every lab image.
	ImageBinary = "/labimg"
	// ProbeBinary is the path of lab/cmd/lab-client in the echo and client images: run
	// it inside any such pod (NsenterExec, Exec) to resolve or connect as the pod
	// does ("dns NAME", "tcp HOST:PORT", "http URL", "udp HOST:PORT", [TIMEOUT]).
	ProbeBinary = "/probe"
)

// image is one image to put in the archive: its tags and its files (the path in
// the image, the file on the host), the first of which is its entrypoint.
type image struct {
	tags  []string
	files []imageFile
}

type imageFile struct {
	path, source string
}

// labPrograms are the lab's own programs, built into DIR/images for the images.
var labPrograms = []string{"lab-echo", "lab-client", "lab-pause", "lab-hostexec"}

// buildImages compiles the lab's own programs from the lab module and writes one
// docker-archive tarball holding every image, for ctr images import.
func (c *Cluster) buildImages(ctx context.Context) (string, error) {
	dir := filepath.Join(c.Dir, "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	pkgs := make([]string, len(labPrograms))
	for i, p := range labPrograms {
		pkgs[i] = "reach/lab/cmd/" + p
	}
	// One go build for all of them: they share the compiled standard library.
	cmd := append([]string{"build", "-trimpath", "-ldflags", "-s -w", "-o", dir + "/"}, pkgs...)
	if _, err := runIn(ctx, c.moduleDir, []string{"CGO_ENABLED=0"}, "go", cmd...); err != nil {
		return "", fmt.Errorf("build the lab's programs: %w", err)
	}
	prog := func(name string) string { return filepath.Join(dir, name) }
	withProbe := func(bin string) []imageFile {
		return []imageFile{{ImageBinary, bin}, {ProbeBinary, prog("lab-client")}}
	}
	imgs := []image{
		{[]string{EchoImage}, withProbe(prog("lab-echo"))},
		{[]string{ClientImage}, withProbe(prog("lab-client"))},
		{[]string{PauseImage}, []imageFile{{ImageBinary, prog("lab-pause")}}},
		{[]string{CoreDNSImage}, []imageFile{{ImageBinary, c.bin("coredns")}}},
		{[]string{KubeProxyImage, KubeRouterImage}, []imageFile{{ImageBinary, prog("lab-hostexec")}}},
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
		var layer bytes.Buffer
		tw := tar.NewWriter(&layer)
		for _, f := range img.files {
			bin, err := os.ReadFile(f.source)
			if err != nil {
				return err
			}
			if err := tw.WriteHeader(&tar.Header{Name: f.path[1:], Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			if _, err := tw.Write(bin); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		diff := sha256.Sum256(layer.Bytes())
		diffID := "sha256:" + hex.EncodeToString(diff[:])
		cfg, err := json.Marshal(map[string]any{
			"architecture": "amd64",
			"os":           "linux",
			"config": map[string]any{
				"Entrypoint": []string{img.files[0].path},
				"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			},
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		})
		if err != nil {
			return err
		}
		cfgSum := sha256.Sum256(cfg)
		cfgName := hex.EncodeToString(cfgSum[:]) + ".json"
		layerName := hex.EncodeToString(diff[:]) + "/layer.tar"
		files = append(files, tarFile{cfgName, cfg}, tarFile{layerName, layer.Bytes()})
		manifest = append(manifest, manifestEntry{Config: cfgName, RepoTags: img.tags, Layers: []string{layerName}})
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
