/// How mbctl's HTTP connections behave: TLS trust, timeouts, speed limits, identity.
public struct TransportOptions: Sendable {
    /// Verify the server's certificate. `false` also allows falling back to plain HTTP, as the
    /// containers tools do with `--tls-verify=false`.
    public var verifyTLS: Bool = true
    /// A directory in the containers-certs.d(5) layout: `*.crt` are extra CAs, `NAME.cert` with
    /// `NAME.key` a client certificate. For every registry (`--cert-dir`).
    public var certificateDirectory: String?
    /// Where each registry's own certificate directory is looked for, `ROOT/HOST:PORT/`, when
    /// ``certificateDirectory`` is not given (as the containers tools look them up).
    public var certificateRoots = ["/etc/containers/certs.d", "/etc/docker/certs.d"]
    /// A certificate directory for one registry host (oci sync's `cert-dir`), before all others.
    public var registryCertificateDirectories: [String: String] = [:]
    /// Abort a transfer that moves fewer than `lowSpeedLimit` bytes/s for `lowSpeedTime` seconds:
    /// a stalled connection fails (and is retried) instead of hanging forever.
    public var lowSpeedLimit: Int = 1024
    public var lowSpeedTime: Int = 30
    public var connectTimeout: Int = 30
    /// Seconds in which a request other than a blob download (a manifest, a config, a token, a
    /// ping) must be done, however slowly its bytes trickle in.
    public var requestDeadline: Int = 120
    /// Cap on receive speed in bytes/s (0: none), like `curl --limit-rate`.
    public var maxReceiveSpeed: Int64 = 0
    public var userAgent: String = "mbctl"

    public init() {}
}
