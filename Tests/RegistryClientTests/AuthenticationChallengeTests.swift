import Testing
@testable import RegistryClient

@Suite struct AuthenticationChallengeTests {
    @Test func readsDockerHubBearerChallenge() {
        let header = #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#
        let challenges = AuthenticationChallenge.parse(header)
        #expect(
            challenges == [
                AuthenticationChallenge(
                    scheme: "bearer",
                    parameters: [
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/busybox:pull",
                    ])
            ])
    }

    @Test func readsBasicChallengeAndCaseAndSpaces() {
        let challenges = AuthenticationChallenge.parse(#"BASIC  Realm = "basic-realm" , charset="UTF-8""#)
        #expect(challenges == [AuthenticationChallenge(scheme: "basic", parameters: ["realm": "basic-realm", "charset": "UTF-8"])])
    }

    @Test func readsSeveralChallengesInOneHeader() {
        let challenges = AuthenticationChallenge.parse(#"Basic realm="r1", Bearer realm="https://t/token",service=svc, error="insufficient_scope""#)
        #expect(challenges.count == 2)
        #expect(challenges[0] == AuthenticationChallenge(scheme: "basic", parameters: ["realm": "r1"]))
        #expect(challenges[1].scheme == "bearer")
        #expect(challenges[1].parameters == ["realm": "https://t/token", "service": "svc", "error": "insufficient_scope"])
    }

    @Test func undoesEscapesInQuotedValues() {
        let challenges = AuthenticationChallenge.parse(#"Bearer realm="a\"b\\c""#)
        #expect(challenges.first?.parameters["realm"] == #"a"b\c"#)
    }

    @Test func schemeWithoutParameters() {
        #expect(AuthenticationChallenge.parse("Negotiate") == [AuthenticationChallenge(scheme: "negotiate")])
        #expect(AuthenticationChallenge.parse("").isEmpty)
    }
}

/// A token server's answer is foreign bytes: its token goes into a header line.
@Suite struct TokenResponseTests {
    @Test func readsTokensAndBoundsTheirLifetime() throws {
        let plain = try #require(TokenResponse(parsing: Array(#"{"token":"abc","expires_in":300}"#.utf8)))
        #expect(plain.token == "abc" && plain.lifetime == 300)
        #expect(TokenResponse(parsing: Array(#"{"access_token":"x"}"#.utf8))?.lifetime == 60)
        #expect(TokenResponse(parsing: Array(#"{"token":"x","expires_in":-5}"#.utf8))?.lifetime == 10)
        #expect(TokenResponse(parsing: Array(#"{"token":"x","expires_in":999999999}"#.utf8))?.lifetime == 86_400)
    }

    @Test(arguments: [#"{"token":"a\r\nX-Injected: 1"}"#, #"{"token":""}"#, #"{"token":"a b"}"#, "not json", #"{"expires_in":5}"#])
    func refusesWhatCannotBeAHeaderValue(body: String) {
        #expect(TokenResponse(parsing: Array(body.utf8)) == nil)
    }
}
