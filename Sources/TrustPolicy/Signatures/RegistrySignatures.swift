import Foundation
import OCILayout
import RegistryClient

/// The signatures of an image in a registry: with `use-sigstore-attachments` (registries.d),
/// the layers of the attachment manifest tagged `sha256-HEX.sig` in the image's repository,
/// fetched from the endpoint (registry or mirror) that gave the image; and the simple-signing
/// signatures of its lookaside store, `LOOKASIDE/REPO@sha256=HEX/signature-N` from N = 1 to the
/// first that does not exist. With `use-sigstore-attachments`, also cosign 3's Sigstore
/// bundles: the referrers of the manifest (the OCI 1.1 referrers API, else the referrers tag
/// `sha256-HEX`) whose artifact type is a Sigstore bundle, each the one layer of its manifest.
///
/// What the registry sends is hostile: the attachment manifest is read with the manifest size
/// limit and verified against the registry's digest, at most ``signatureLimit`` signatures are
/// read, each signature or payload at most ``sizeLimit`` bytes and verified against its
/// digest. An attachment that does not exist means "no signatures".
public struct RegistrySignatures: SignatureSource {
    /// The most signatures read from one attachment (containers/image reads at most 128
    /// lookaside signatures).
    public static let signatureLimit = 128
    /// The largest signature (or sigstore payload) read: containers/image's limit for a
    /// signature body.
    public static let sizeLimit: Int64 = 4 << 20

    let client: RegistryClient
    let endpoint: RegistriesConfiguration.Endpoint
    let usesSigstoreAttachments: Bool
    /// The lookaside store of the image's repository (its path appended).
    let lookaside: String

    public init(client: RegistryClient, endpoint: RegistriesConfiguration.Endpoint, usesSigstoreAttachments: Bool, lookaside: String) {
        self.client = client
        self.endpoint = endpoint
        self.usesSigstoreAttachments = usesSigstoreAttachments
        self.lookaside = lookaside
    }

    public func simpleSignatures(of digest: Digest) async throws -> [Data] {
        var signatures: [Data] = []
        for index in 1...Self.signatureLimit {
            let url = "\(lookaside)@\(digest.algorithm)=\(digest.encoded)/signature-\(index)"
            guard let signature = try await client.fetchLookaside(url, limit: Self.sizeLimit) else { return signatures }
            signatures.append(signature)
        }
        throw RegistryError.invalidResponse(url: lookaside, reason: "the lookaside store holds more than \(Self.signatureLimit) signatures")
    }

    public func sigstoreBundles(of digest: Digest) async throws -> [AttachedBundle] {
        guard usesSigstoreAttachments else { return [] }
        let image = endpoint.reference
        let place = "referrers of \(image.registry)/\(image.repository)@\(digest)"
        // The referrers API and the referrers tag are asked at once; the tag counts only where
        // the registry has no API.
        async let api = client.fetchReferrers(of: digest, in: image, asMirror: endpoint.isMirror, insecure: endpoint.insecure)
        async let tagged = client.fetchReferrersTag(of: digest, in: image, asMirror: endpoint.isMirror, insecure: endpoint.insecure)
        let fromAPI = try await api
        let index = fromAPI != nil ? fromAPI : try await tagged
        let bundles = (index?.manifests ?? []).filter { $0.artifactType?.hasPrefix(SigstoreBundle.mediaTypePrefix) == true }
        guard bundles.count <= Self.signatureLimit else {
            throw RegistryError.invalidResponse(
                url: place, reason: "\(bundles.count) Sigstore bundles are attached, more than the limit of \(Self.signatureLimit)")
        }
        var fetched: [AttachedBundle] = []
        for entry in bundles {
            let document = try await client.fetchManifest(image, digest: entry.digest, asMirror: endpoint.isMirror, insecure: endpoint.insecure)
            guard !document.isIndex, let manifest = try? JSONDecoder().decode(ImageManifest.self, from: document.data),
                let layer = manifest.layers.first, manifest.layers.count == 1, layer.mediaType.hasPrefix(SigstoreBundle.mediaTypePrefix)
            else {
                throw RegistryError.invalidResponse(url: place, reason: "referrer \(entry.digest) is not a manifest of one Sigstore bundle")
            }
            let config =
                manifest.config.digest == .sha256(of: AttachedBundle.emptyConfig)
                ? AttachedBundle.emptyConfig
                : try await client.fetchSmallBlob(manifest.config, of: image, asMirror: endpoint.isMirror, insecure: endpoint.insecure, limit: Self.sizeLimit)
            let bundle = try await client.fetchSmallBlob(layer, of: image, asMirror: endpoint.isMirror, insecure: endpoint.insecure, limit: Self.sizeLimit)
            // Listed as what was fetched, not as the index claimed.
            var listed = entry
            listed.mediaType = document.mediaType
            listed.size = Int64(document.data.count)
            fetched.append(AttachedBundle(entry: listed, manifest: document, config: (manifest.config, config), bundle: (layer, bundle)))
        }
        return fetched
    }

    public func sigstoreSignatures(of digest: Digest) async throws -> [SigstoreSignature] {
        guard usesSigstoreAttachments else { return [] }
        let image = endpoint.reference
        let attachment = try ImageReference(parsing: "\(image.registry)/\(image.repository):\(SigstoreSignature.attachmentTag(for: digest))")
        let document: ManifestDocument
        do {
            document = try await client.fetchManifest(attachment, asMirror: endpoint.isMirror, insecure: endpoint.insecure)
        } catch RegistryError.notFound {
            return []
        }
        guard !document.isIndex, let manifest = try? JSONDecoder().decode(ImageManifest.self, from: document.data) else {
            throw RegistryError.invalidResponse(url: "\(attachment)", reason: "the signature attachment is not an image manifest")
        }
        let layers = manifest.layers.filter { $0.mediaType == SigstoreSignature.mediaType }
        guard layers.count <= Self.signatureLimit else {
            throw RegistryError.invalidResponse(
                url: "\(attachment)", reason: "the signature attachment holds \(layers.count) signatures, more than the limit of \(Self.signatureLimit)")
        }
        var signatures: [SigstoreSignature] = []
        for layer in layers {
            let payload = try await client.fetchSmallBlob(
                layer, of: image, asMirror: endpoint.isMirror, insecure: endpoint.insecure, limit: Self.sizeLimit)
            signatures.append(SigstoreSignature(payload: payload, annotations: layer.annotations ?? [:]))
        }
        return signatures
    }
}
