package api

// Image requests addressed to one node (core NATS request/reply, not the log):
// an image archive on ImageImportSubject(node), or an empty request on
// ImageListSubject(node); both are answered with an ImageReply.

// ImageImportSubject is where a node imports an image archive.
func ImageImportSubject(node string) string { return "wake.node." + node + ".image.import" }

// ImageListSubject is where a node lists its images.
func ImageListSubject(node string) string { return "wake.node." + node + ".image.list" }

// ImageReply answers an image request.
type ImageReply struct {
	Node   string      `json:"node"`
	Images []ImageInfo `json:"images,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// ImageInfo is one image of a node.
type ImageInfo struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}
