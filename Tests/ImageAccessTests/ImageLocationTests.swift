import Testing
@testable import ImageAccess
import RegistryClient

@Suite struct ImageLocationTests {
    @Test func readsSkopeoTransports() throws {
        #expect(try ImageLocation(parsing: "busybox") == .registry(try ImageReference(parsing: "busybox")))
        #expect(try ImageLocation(parsing: "docker://host:5000/a:1") == .registry(try ImageReference(parsing: "host:5000/a:1")))
        #expect(try ImageLocation(parsing: "oci:/srv/img") == .layout(path: "/srv/img", tag: nil))
        #expect(try ImageLocation(parsing: "oci:/srv/img:v1") == .layout(path: "/srv/img", tag: "v1"))
        #expect(try ImageLocation(parsing: "oci-archive:/tmp/a.tar:v2") == .ociArchive(path: "/tmp/a.tar", tag: "v2"))
        #expect(try ImageLocation(parsing: "docker-archive:/tmp/d.tar") == .dockerArchive(path: "/tmp/d.tar", reference: nil))
        #expect(try ImageLocation(parsing: "docker-archive:/tmp/d.tar:app:1") == .dockerArchive(path: "/tmp/d.tar", reference: "app:1"))
    }

    @Test func refusesUnknownTransportsWithTheirName() {
        #expect(throws: ImageLocationError.self) { try ImageLocation(parsing: "containers-storage:busybox") }
        #expect(throws: ImageLocationError.self) { try ImageLocation(parsing: "http://example.com/x") }
        #expect(throws: ImageLocationError.self) { try ImageLocation(parsing: "oci:") }
        #expect(throws: RegistryError.self) { try ImageLocation(parsing: "docker://Upper/case") }
    }

    @Test func printsBackWhatItRead() throws {
        for text in ["oci:/a:b", "oci-archive:/x.tar", "docker://docker.io/library/busybox:latest"] {
            #expect(try ImageLocation(parsing: text).description == text)
        }
    }
}
