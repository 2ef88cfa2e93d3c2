/// The media types mbctl reads, as written by the OCI image specification and Docker.
public enum MediaType {
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociLayoutHeader = "application/vnd.oci.layout.header.v1+json"

    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let ociLayerNondistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar"
    public static let ociLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    public static let ociLayerNondistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerLayerForeignGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// Docker's pre-2016 manifests, which carry no content-addressed config and are signed with JWS.
    public static let dockerSchema1Manifest = "application/vnd.docker.distribution.manifest.v1+json"
    public static let dockerSchema1SignedManifest = "application/vnd.docker.distribution.manifest.v1+prettyjws"

    /// Types of documents that list platform-specific manifests.
    public static let indexTypes: Set<String> = [ociIndex, dockerManifestList]
    /// Types of single-platform image manifests.
    public static let manifestTypes: Set<String> = [ociManifest, dockerManifest]
    public static let schema1Types: Set<String> = [dockerSchema1Manifest, dockerSchema1SignedManifest]
}
