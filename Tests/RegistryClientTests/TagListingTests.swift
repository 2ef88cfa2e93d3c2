import Foundation
import OCILayout
import Testing
@testable import RegistryClient

/// The pages of a repository's tag list: a registry's `Link` header is followed only within the
/// repository asked about, never to another repository or host.
@Suite struct TagListingTests {
    @Test func theNextPageOfTagsStaysInItsRepository() {
        #expect(RegistryClient.nextPage("</v2/team/app/tags/list?n=2&last=b>; rel=\"next\"", repository: "team/app") == "/team/app/tags/list?n=2&last=b")
        #expect(RegistryClient.nextPage("</v2/other/tags/list?n=2>; rel=\"next\"", repository: "team/app") == nil)
        #expect(RegistryClient.nextPage("<https://evil.example/v2/team/app/tags/list>; rel=\"next\"", repository: "team/app") == nil)
        #expect(RegistryClient.nextPage("</v2/team/app/tags/list?n=2>; rel=\"prev\"", repository: "team/app") == nil)
        #expect(RegistryClient.nextPage(nil, repository: "team/app") == nil)
    }

    @Test func tagsAreReadPageByPageAndHeldToWhatATagIs() async throws {
        let registry = FakeRegistry()
        let client = RegistryFetchTests.client(registry)
        let reference = try ImageReference(parsing: "127.0.0.1:5000/team/app")
        registry.serveTags([["1.0", "1.1"], ["2.0"]], in: "team/app")
        #expect(try await client.listTags(reference) == ["1.0", "1.1", "2.0"])
        #expect(registry.requests.filter { $0.target.contains("/tags/list") }.count == 2)

        // A next page in another repository is not followed; a tag that is no tag is refused.
        registry.serveTags([["1.0"], ["evil"]], in: "team/app", links: ["</v2/other/tags/list?page=1>; rel=\"next\"", nil])
        #expect(try await client.listTags(reference) == ["1.0"])
        registry.serveTags([["1.0", "../../etc"]], in: "team/app")
        await #expect(throws: RegistryError.self) { try await client.listTags(reference) }

        // The digest a tag names, with one HEAD; none for a missing tag.
        let digest = registry.putManifest(Array("{}".utf8), mediaType: MediaType.ociManifest, in: "team/app", as: "1.0")
        #expect(try await client.manifestDigest(try ImageReference(parsing: "127.0.0.1:5000/team/app:1.0")) == digest)
        #expect(try await client.manifestDigest(try ImageReference(parsing: "127.0.0.1:5000/team/app:9.9")) == nil)
    }
}
