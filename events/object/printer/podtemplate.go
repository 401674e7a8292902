package printer

import (
	"bytes"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// DescribePodTemplate writes t as kubectl's DescribePodTemplate does: what
// rollout history --revision=N prints of a revision.
func DescribePodTemplate(w io.Writer, t *corev1.PodTemplateSpec) error {
	var buf bytes.Buffer
	pw := newPrefixWriter(&buf)
	describer{w: pw, now: time.Now()}.podTemplate(t)
	if err := pw.flush(); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
