/// The sources of the Man8S busybox init (docs/host-contract.md, section 6), kept in the binary so that
/// installing mbctl is copying one file. File names and order are those of existing machines.
///
/// Fixed defects of the Python mbctl's scripts: every tool is run through busybox explicitly
/// (`$BUSYBOX_RUN`, exported, so the udhcpc hook has it too); a failed DHCP lease is logged and
/// init goes on; the busybox path is a parameter, for images that have their own /bin/busybox.
enum InitScripts {
    /// The scripts, relative to the rootfs, for a machine whose busybox is at `busybox`.
    static func files(busybox: String) -> [(path: String, contents: String)] {
        [
            ("/sbin/busybox-init.sh", initScript(busybox)),
            ("/sbin/busybox-execute.sh", executeScript(busybox)),
            ("/sbin/busybox-copy-protected-dirs.sh", copyProtectedDirsScript),
            ("/sbin/busybox-load-envs.sh", loadEnvsScript),
            ("/sbin/busybox-autoconfig-networking.sh", autoconfigNetworkingScript),
            ("/sbin/yggdrasil-config-ipaddr.sh", yggdrasilAddressScript),
            ("/sbin/application.sh", applicationScript),
            ("/usr/share/udhcpc/default.script", udhcpcHook(busybox)),
        ]
    }

    static func initScript(_ busybox: String) -> String {
        """
        #!\(busybox) sh
        # Man8S init, run by systemd-nspawn as the machine's first process (ProcessTwo=yes).
        # Each step is sourced into this shell, in this order; the last one execs the application.
        for step in busybox-execute busybox-copy-protected-dirs busybox-load-envs \\
                    busybox-autoconfig-networking yggdrasil-config-ipaddr application; do
            . /sbin/$step.sh
        done

        """
    }

    static func executeScript(_ busybox: String) -> String {
        """
        # Every tool init uses comes from this busybox, never from the image's PATH.
        BUSYBOX_RUN=\(busybox)
        export BUSYBOX_RUN

        """
    }

    static let copyProtectedDirsScript = """
        # nspawn mounts tmpfs over /run and /tmp; what the image had there was kept aside by mbctl.
        for dir in run tmp; do
            if [ -d "/$dir.man8sprotected" ]; then
                $BUSYBOX_RUN cp -a "/$dir.man8sprotected/." "/$dir/" || echo "man8s-init: could not restore /$dir" >&2
            fi
        done

        """

    static let loadEnvsScript = """
        # Exports every KEY=VALUE line of /man8env.env, split at the first "=", values taken
        # literally (never evaluated by the shell). Blank lines and lines starting with # are skipped.
        if [ -f /man8env.env ]; then
            while IFS= read -r line || [ -n "$line" ]; do
                case "$line" in
                    '' | '#'*) continue ;;
                esac
                key=${line%%=*}
                value=${line#*=}
                case "$key" in
                    '' | [0-9]* | *[!A-Za-z0-9_]*)
                        echo "man8s-init: skipping a line of /man8env.env without a valid KEY=" >&2
                        continue
                        ;;
                esac
                export "$key=$value"
            done < /man8env.env
            unset line key value
        fi

        """

    static let autoconfigNetworkingScript = """
        # The first interface that is not loopback: up, and DHCPv4 on it. No lease is not fatal.
        $BUSYBOX_RUN ip link set lo up
        MAN8S_HOST_IFACE=
        for path in /sys/class/net/*; do
            name=${path##*/}
            if [ "$name" != lo ] && [ -e "$path" ]; then
                MAN8S_HOST_IFACE=$name
                break
            fi
        done
        export MAN8S_HOST_IFACE
        if [ -n "$MAN8S_HOST_IFACE" ]; then
            $BUSYBOX_RUN ip link set "$MAN8S_HOST_IFACE" up
            if ! $BUSYBOX_RUN udhcpc -i "$MAN8S_HOST_IFACE" -q -n -t 3 -T 3 -s /usr/share/udhcpc/default.script; then
                echo "man8s-init: no DHCPv4 lease on $MAN8S_HOST_IFACE; going on without IPv4" >&2
            fi
        else
            echo "man8s-init: no network interface besides lo" >&2
        fi

        """

    static let yggdrasilAddressScript = """
        # The machine's fixed yggdrasil address, derived from its name by mbctl.
        if [ -n "$MAN8S_YGGDRASIL_ADDRESS" ] && [ -n "$MAN8S_HOST_IFACE" ]; then
            $BUSYBOX_RUN ip addr add "$MAN8S_YGGDRASIL_ADDRESS" dev "$MAN8S_HOST_IFACE" \\
                || echo "man8s-init: could not add $MAN8S_YGGDRASIL_ADDRESS to $MAN8S_HOST_IFACE" >&2
        fi

        """

    static let applicationScript = """
        # The image's Entrypoint and Cmd, quoted by mbctl as sh reads them.
        exec /bin/sh -c "exec $MAN8S_APPLICATION_ARGS"

        """

    static func udhcpcHook(_ busybox: String) -> String {
        """
        #!\(busybox) sh
        # udhcpc's hook: applies a DHCPv4 lease with busybox's own ip, never the image's tools.
        BB=\(busybox)
        case "$1" in
            deconfig)
                $BB ip -4 addr flush dev "$interface"
                $BB ip link set "$interface" up
                ;;
            bound | renew)
                $BB ip -4 addr flush dev "$interface"
                $BB ip -4 addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
                if [ -n "$router" ]; then
                    while $BB ip -4 route del default dev "$interface" 2>/dev/null; do :; done
                    for gateway in $router; do
                        $BB ip -4 route add default via "$gateway" dev "$interface" && break
                    done
                fi
                # A resolver file mbctl binds in read-only (--dns) is not the lease's to replace.
                if [ -n "$dns" ] && { [ ! -e /etc/resolv.conf ] || [ -w /etc/resolv.conf ]; }; then
                    {
                        [ -n "$domain" ] && echo "search $domain"
                        for server in $dns; do echo "nameserver $server"; done
                    } > /etc/resolv.conf.man8s && $BB mv -f /etc/resolv.conf.man8s /etc/resolv.conf
                fi
                ;;
        esac
        exit 0

        """
    }
}
