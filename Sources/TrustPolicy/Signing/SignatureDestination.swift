import Foundation
import OCILayout
import RegistryClient
import SystemErrors

/// Where the signatures of an image pushed to a registry go, as registries.d says and
/// containers/image writes them: sigstore signatures as layers of the `sha256-HEX.sig`
/// attachment in the image's repository (with `use-sigstore-attachments`), simple-signing
/// signatures as `REPO@sha256=HEX/signature-N` in the lookaside store (`lookaside-staging`,
/// else `lookaside`; only `file://` can be written).
///
/// Signatures already there are kept: new ones are added after them, and one already there is
/// not added twice.
public struct SignatureDestination: Sendable {
    let client: RegistryClient
    let reference: ImageReference
    let usesSigstoreAttachments: Bool
    /// The lookaside store signatures are written to, the repository's path appended.
    let lookaside: String

    public init(client: RegistryClient, reference: ImageReference, trust: ImageTrust) {
        self.client = client
        self.reference = reference
        usesSigstoreAttachments = trust.storage.usesSigstoreAttachments(for: reference)
        lookaside = trust.lookaside(for: reference, writing: true)
    }

    var name: String { "docker://\(reference)" }

    /// The name signatures of the image vouch for unless told otherwise: `HOST/REPO:TAG` (or
    /// `@DIGEST`), as the policy looks the image up.
    public var identity: String { PolicySubject.docker(reference).identity }

    /// Whether signatures of the kinds given can be stored here; asked before anything is
    /// pushed, so a copy that could not keep its signatures pushes nothing.
    public func checkStorable(sigstore: Bool, simple: Bool) throws {
        if sigstore, !usesSigstoreAttachments {
            throw TrustPolicyError.signaturesNotStorable(
                image: name,
                reason:
                    "sigstore signatures go into registry attachments, and registries.d does not set use-sigstore-attachments for \(reference.registry)/\(reference.repository) (set it, or pass --remove-signatures)"
            )
        }
        if simple {
            _ = try lookasideDirectory()
        }
    }

    /// The directory of the `file://` lookaside store.
    func lookasideDirectory() throws -> String {
        guard let url = URL(string: lookaside), url.scheme?.lowercased() == "file", !url.path.isEmpty else {
            throw TrustPolicyError.signaturesNotStorable(
                image: name,
                reason:
                    "mbctl writes simple signatures only to a file:// lookaside, and registries.d names \(lookaside) (give a file:// lookaside-staging, or pass --remove-signatures)"
            )
        }
        return url.path
    }

    // MARK: Sigstore attachments

    /// Adds `signatures` to the attachment of the manifest `digest`; returns how many were new.
    public func add(sigstore signatures: [SigstoreSignature], of digest: Digest) async throws -> Int {
        guard !signatures.isEmpty else { return 0 }
        try checkStorable(sigstore: true, simple: false)
        let attachment = try ImageReference(parsing: "\(reference.registry)/\(reference.repository):\(SigstoreSignature.attachmentTag(for: digest))")
        var (manifest, config) = try await existingAttachment(attachment)
        var diffIDs = (config["rootfs"] as? [String: Any])?["diff_ids"] as? [Any] ?? []
        var added = 0
        for signature in signatures {
            let layer = Descriptor(
                mediaType: SigstoreSignature.mediaType, digest: Digest.sha256(of: signature.payload), size: Int64(signature.payload.count),
                annotations: signature.annotations)
            guard !manifest.layers.contains(where: { $0.mediaType == layer.mediaType && $0.digest == layer.digest && $0.annotations == layer.annotations })
            else { continue }
            guard manifest.layers.count < RegistrySignatures.signatureLimit else {
                throw TrustPolicyError.signaturesNotStorable(
                    image: name, reason: "its attachment holds \(RegistrySignatures.signatureLimit) signatures already, as many as mbctl reads")
            }
            _ = try await client.pushBlob(layer, bytes: signature.payload, to: reference)
            manifest.layers.append(layer)
            diffIDs.append(layer.digest.description)
            added += 1
        }
        guard added > 0 else { return 0 }
        var rootfs = config["rootfs"] as? [String: Any] ?? [:]
        rootfs["type"] = "layers"
        rootfs["diff_ids"] = diffIDs
        config["rootfs"] = rootfs
        let configData = try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .withoutEscapingSlashes])
        manifest.config = Descriptor(mediaType: MediaType.ociConfig, digest: Digest.sha256(of: configData), size: Int64(configData.count))
        _ = try await client.pushBlob(manifest.config, bytes: configData, to: reference)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let manifestData = try encoder.encode(manifest)
        let document = ManifestDocument(data: manifestData, mediaType: MediaType.ociManifest, digest: Digest.sha256(of: manifestData))
        try await client.pushManifest(document, to: reference, tag: attachment.tag)
        return added
    }

    /// The attachment there is (its manifest and config), or an empty one.
    func existingAttachment(_ attachment: ImageReference) async throws -> (ImageManifest, [String: Any]) {
        let fresh: [String: Any] = ["architecture": "", "os": "", "config": [String: Any](), "rootfs": ["type": "layers", "diff_ids": [String]()]]
        let document: ManifestDocument
        do {
            document = try await client.fetchManifest(attachment)
        } catch RegistryError.notFound {
            return (
                ImageManifest(
                    mediaType: MediaType.ociManifest, config: Descriptor(mediaType: MediaType.ociConfig, digest: .sha256(of: Data()), size: 0), layers: []),
                fresh
            )
        }
        guard !document.isIndex, let manifest = try? JSONDecoder().decode(ImageManifest.self, from: document.data) else {
            throw TrustPolicyError.signaturesNotStorable(image: name, reason: "\(attachment) is there and is no signature attachment")
        }
        let configData = try await client.fetchSmallBlob(manifest.config, of: reference, limit: DocumentLimits.config)
        guard let config = try? JSONSerialization.jsonObject(with: configData) as? [String: Any] else {
            throw TrustPolicyError.signaturesNotStorable(image: name, reason: "the config of \(attachment) is not a JSON object")
        }
        return (manifest, config)
    }

    // MARK: Sigstore bundles

    /// Attaches `bundles` to the image whose manifest is `subject` as cosign 3 does: each
    /// referrer manifest pushed by digest as it came (so it keeps its digest), with its config
    /// and bundle, and listed in the referrers tag `sha256-HEX` where the registry has no
    /// referrers API (the entries there kept, each added once). Returns how many were not
    /// listed before.
    public func add(bundles: [AttachedBundle], of subject: Digest) async throws -> Int {
        guard !bundles.isEmpty else { return 0 }
        try checkStorable(sigstore: true, simple: false)
        let hasAPI = try await client.fetchReferrers(of: subject, in: reference) != nil
        let tag = try RegistryClient.referrersTag(of: subject, in: reference)
        var index = ImageIndex()
        if !hasAPI, let existing = try await client.fetchReferrersTag(of: subject, in: reference) { index = existing }
        var added = 0
        for attached in bundles where !index.manifests.contains(where: { $0.digest == attached.manifest.digest }) {
            _ = try await client.pushBlob(attached.config.descriptor, bytes: attached.config.bytes, to: reference)
            _ = try await client.pushBlob(attached.bundle.descriptor, bytes: attached.bundle.bytes, to: reference)
            try await client.pushManifest(attached.manifest, to: reference, tag: nil)
            index.manifests.append(attached.entry)
            added += 1
        }
        guard added > 0, !hasAPI else { return added }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(index)
        try await client.pushManifest(ManifestDocument(data: data, mediaType: MediaType.ociIndex, digest: .sha256(of: data)), to: reference, tag: tag.tag)
        return added
    }

    // MARK: Lookaside

    /// Adds `signatures` to the lookaside store of the manifest `digest` (after the ones
    /// there, each once); returns how many were new. Each is written to a file of its own and
    /// linked into place, so a reader never sees half a signature and none is overwritten.
    public func add(simple signatures: [Data], of digest: Digest) throws -> Int {
        guard !signatures.isEmpty else { return 0 }
        let directory = try lookasideDirectory() + "@\(digest.algorithm)=\(digest.encoded)"
        try Self.makeDirectories(directory)
        var existing: [Data] = []
        while existing.count < RegistrySignatures.signatureLimit,
            let signature = try RegularFileOpening.contents(of: "\(directory)/signature-\(existing.count + 1)", limit: Int(RegistrySignatures.sizeLimit))
        {
            existing.append(signature)
        }
        var added = 0
        for signature in signatures where !existing.contains(signature) {
            guard existing.count < RegistrySignatures.signatureLimit else {
                throw TrustPolicyError.signaturesNotStorable(
                    image: name, reason: "\(directory) holds \(RegistrySignatures.signatureLimit) signatures already, as many as mbctl reads")
            }
            try Self.writeNew(signature, at: "\(directory)/signature-\(existing.count + 1)")
            existing.append(signature)
            added += 1
        }
        return added
    }

    /// Makes `path` and the directories above it that are missing (mode 0755).
    static func makeDirectories(_ path: String) throws {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/\(component)"
            if mkdir(prefix, 0o755) != 0, errno != EEXIST { throw FilesystemError(path: prefix, operation: "create", errno: errno) }
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { throw FilesystemError(path: path, operation: "stat", errno: errno) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw UnexpectedFileKind(path: path, mode: info.st_mode, expected: S_IFDIR, advice: nil) }
    }

    /// Writes `data` to the new file `path`: a temporary file beside it, linked to `path`
    /// (which fails if `path` exists), then unlinked.
    static func writeNew(_ data: Data, at path: String) throws {
        let temporary = "\(path).mbctl-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FilesystemError(path: temporary, operation: "create", errno: errno) }
        defer { unlink(temporary) }
        var offset = 0
        while offset < data.count {
            let written = data.withUnsafeBytes { bytes in bytes.baseAddress.map { write(fd, $0 + offset, bytes.count - offset) } ?? 0 }
            if written < 0 {
                let writeErrno = errno
                if writeErrno == EINTR { continue }
                close(fd)
                throw FilesystemError(path: temporary, operation: "write", errno: writeErrno)
            }
            offset += written
        }
        guard fsync(fd) == 0 else {
            let syncErrno = errno
            close(fd)
            throw FilesystemError(path: temporary, operation: "sync", errno: syncErrno)
        }
        guard close(fd) == 0 else { throw FilesystemError(path: temporary, operation: "close", errno: errno) }
        guard link(temporary, path) == 0 else { throw FilesystemError(path: path, operation: "link", errno: errno) }
    }
}
