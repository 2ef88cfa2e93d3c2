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
}
