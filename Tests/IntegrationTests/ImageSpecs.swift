import Foundation

/// make-image.py descriptions of the images the integration tests push.
enum ImageSpecs {
    /// Three layers (gzip, zstd, uncompressed) holding files, a directory, a symlink and a hardlink.
    static let multiLayer = """
        {"tag": "v1", "images": [{"platform": "linux/amd64",
          "config": {"Entrypoint": ["/bin/app"], "Cmd": ["--flag", "a b"], "Env": ["PATH=/bin", "X=1=2"], "WorkingDir": "/srv"},
          "layers": [
            {"compression": "gzip", "entries": [{"path": "bin", "type": "dir"}, {"path": "bin/app", "content": "#!/bin/sh\\necho app\\n", "mode": 493},
                                                {"path": "bin/link", "type": "symlink", "target": "app"}]},
            {"compression": "zstd", "entries": [{"path": "data.bin", "type": "random", "size": 700000, "seed": 7},
                                                {"path": "data.hard", "type": "hardlink", "target": "data.bin"}]},
            {"compression": "none", "entries": [{"path": "etc", "type": "dir"}, {"path": "etc/motd", "content": "welcome\\n"}]}]}]}
        """

    /// One image per platform, in an index.
    static let multiPlatform = """
        {"tag": "multi", "images": [
          {"platform": "linux/amd64", "layers": [{"entries": [{"path": "arch", "content": "amd64"}]}]},
          {"platform": "linux/arm64/v8", "layers": [{"entries": [{"path": "arch", "content": "arm64"}]}]},
          {"platform": "linux/arm/v7", "layers": [{"entries": [{"path": "arch", "content": "armv7"}]}]}]}
        """

    /// A small image, for authentication tests.
    static let small = """
        {"tag": "small", "images": [{"platform": "linux/amd64", "layers": [{"entries": [{"path": "hello", "content": "hello"}]}]}]}
        """

    /// One large incompressible layer (stored uncompressed), for interrupted downloads.
    static func large(megabytes: Int) -> String {
        """
        {"tag": "large", "images": [{"platform": "linux/amd64", "layers": [
          {"compression": "none", "entries": [{"path": "blob.bin", "type": "random", "size": \(megabytes << 20), "seed": 3}]}]}]}
        """
    }
}
