package agent

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// dataLink is the symlink of a config volume that points at its current
// timestamped directory; every visible name links through it.
const dataLink = "..data"

// writeAtomic makes dir hold exactly files, as the kubelet's atomic writer
// does: the files go into a new timestamped directory ("..2006_01_02_15_04_05.N"),
// the ..data symlink is swapped to it by a rename (so a reader sees the old set
// or the new one, never a mix), each top-level name is a symlink through ..data,
// and the previous directory and names no longer used are removed. It writes
// nothing when dir already holds files with the same contents and modes, and
// reports whether it wrote.
func writeAtomic(dir string, files map[string]volumeFile) (bool, error) {
	old, _ := os.Readlink(filepath.Join(dir, dataLink))
	if old != "" && sameFiles(filepath.Join(dir, old), files) {
		return false, nil
	}
	ts, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return false, err
	}
	for p, f := range files {
		full := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(full, f.data, 0o600); err != nil {
			return false, err
		}
		if err := os.Chmod(full, fs.FileMode(f.mode)&fs.ModePerm); err != nil {
			return false, err
		}
	}
	tmp := filepath.Join(dir, dataLink+"_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		return false, fmt.Errorf("swap %s: %w", dataLink, err)
	}
	top := map[string]bool{}
	for p := range files {
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(dataLink, name), link); err != nil {
			return false, err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == dataLink || name == filepath.Base(ts):
		case strings.HasPrefix(name, ".."):
			if e.IsDir() {
				_ = os.RemoveAll(filepath.Join(dir, name)) // an earlier timestamped directory
			}
		case !top[name] && e.Type()&fs.ModeSymlink != 0:
			_ = os.Remove(filepath.Join(dir, name)) // a key no longer there
		}
	}
	return true, nil
}

// sameFiles reports whether the directory holds exactly files, with their modes.
func sameFiles(dir string, files map[string]volumeFile) bool {
	seen := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		f, ok := files[filepath.ToSlash(rel)]
		info, ierr := d.Info()
		if !ok || ierr != nil || info.Mode().Perm() != fs.FileMode(f.mode)&fs.ModePerm {
			return fs.ErrInvalid
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(data, f.data) {
			return fs.ErrInvalid
		}
		seen++
		return nil
	})
	return err == nil && seen == len(files)
}
