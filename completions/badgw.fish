# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_badgw_global_optspecs
    string join \n color= h/help V/version
end

function __fish_badgw_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_badgw_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_badgw_using_subcommand
    set -l cmd (__fish_badgw_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c badgw -n "__fish_badgw_needs_command" -l color -d 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c badgw -n "__fish_badgw_needs_command" -s h -l help -d 'Print help'
complete -c badgw -n "__fish_badgw_needs_command" -s V -l version -d 'Print version'
complete -c badgw -n "__fish_badgw_needs_command" -f -a "diagnose" -d 'Find why nginx answers 502/504 for a site: ranked root causes with evidence and fixes'
complete -c badgw -n "__fish_badgw_needs_command" -f -a "route" -d 'Show which server block, location and upstream serve a request, by nginx\'s rules'
complete -c badgw -n "__fish_badgw_needs_command" -f -a "collect" -d 'Write the gathered facts as a JSON snapshot to stdout (analyze later with `diagnose --from`)'
complete -c badgw -n "__fish_badgw_needs_command" -f -a "explain-log" -d 'Classify every upstream failure in nginx error logs and summarize them'
complete -c badgw -n "__fish_badgw_needs_command" -f -a "explain" -d 'Print the documentation of a cause id (e.g. `badgw explain upstream-down`)'
complete -c badgw -n "__fish_badgw_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c badgw -n "__fish_badgw_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l site -d 'Host name the clients use, e.g. shop.example.com' -r
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l path -d 'Request path to route, e.g. /api/orders' -r
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l port -d 'Port the client connects to nginx on (default: every port nginx listens on)' -r
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l url -d 'A full URL, standing for --site, --port and --path together' -r
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l nginx-conf -d 'Main nginx configuration file (default: from the running master, `nginx -V`, or the usual paths)' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l nginx-dump -d 'Output of `nginx -T` to read the configuration from' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l from -d 'Analyze a snapshot written by `badgw collect`; never touches this host' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l error-log -d 'Error log to read (default: the one that serves the site); `-` reads standard input, e.g. `docker logs NAME 2>&1 | badgw diagnose … --error-log -` (runtime prefixes are stripped)' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l access-log -d 'Access log to read (default: the one that serves the site)' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l kernel-log -d 'Kernel log file (dmesg, kern.log) to search for OOM kills' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l journal -d 'Output of `journalctl -u UNIT` for the app' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l unit-status -d 'Output of `systemctl show UNIT` for the app' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l since -d 'How far back to read logs. Durations, here and in every option: a number and a unit, ms, s, m, h or d (500ms, 90s, 15m, 1.5h, 1d); a bare number is seconds' -r
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l timeout -d 'Timeout of each probe and external command, e.g. 3s, 500ms' -r
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l lb-idle-timeout -d 'Idle timeout of the load balancer in front of nginx (AWS ALB: 60s by default), compared with nginx\'s keepalive_timeout' -r
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l deadline -d 'Deadline of the whole run; the report then shows what was gathered and marks the rest `unavailable: deadline` (default: 5 × --timeout + 2s)' -r
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l color -d 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l json -d 'Print the report as JSON (schema: docs/json.md)'
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -s v -l verbose -d 'Show every check, every evidence line and the timeouts table (the default report fits one screen; it is always complete when the diagnosis is incomplete)'
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l fix -d 'After the report, offer the leading cause\'s fixes one at a time (what runs, a diff of each edited file, [y/N]); back up, test, reload, then check the site answers again. Needs a terminal, or --yes'
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l yes -d 'With --fix: apply without asking (for scripts)'
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -l dry-run -d 'With --fix: print the plan (commands and diffs) and change nothing'
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -s h -l help -d 'Print help'
complete -c badgw -n "__fish_badgw_using_subcommand diagnose" -s V -l version -d 'Print version'
complete -c badgw -n "__fish_badgw_using_subcommand route" -l site -d 'Host name the clients use, e.g. shop.example.com' -r
complete -c badgw -n "__fish_badgw_using_subcommand route" -l path -d 'Request path to route, e.g. /api/orders' -r
complete -c badgw -n "__fish_badgw_using_subcommand route" -l port -d 'Port the client connects to nginx on (default: every port nginx listens on)' -r
complete -c badgw -n "__fish_badgw_using_subcommand route" -l url -d 'A full URL, standing for --site, --port and --path together' -r
complete -c badgw -n "__fish_badgw_using_subcommand route" -l nginx-conf -d 'Main nginx configuration file (default: from the running master, `nginx -V`, or the usual paths)' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand route" -l nginx-dump -d 'Output of `nginx -T` to read the configuration from' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand route" -l from -d 'Analyze a snapshot written by `badgw collect`; never touches this host' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand route" -l color -d 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c badgw -n "__fish_badgw_using_subcommand route" -l json -d 'Print the route as JSON (schema: docs/json.md)'
complete -c badgw -n "__fish_badgw_using_subcommand route" -s h -l help -d 'Print help'
complete -c badgw -n "__fish_badgw_using_subcommand route" -s V -l version -d 'Print version'
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l site -d 'Host name the clients use, e.g. shop.example.com' -r
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l path -d 'Request path to route, e.g. /api/orders' -r
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l port -d 'Port the client connects to nginx on (default: every port nginx listens on)' -r
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l url -d 'A full URL, standing for --site, --port and --path together' -r
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l nginx-conf -d 'Main nginx configuration file (default: from the running master, `nginx -V`, or the usual paths)' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l nginx-dump -d 'Output of `nginx -T` to read the configuration from' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l from -d 'Analyze a snapshot written by `badgw collect`; never touches this host' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l error-log -d 'Error log to read (default: the one that serves the site); `-` reads standard input, e.g. `docker logs NAME 2>&1 | badgw diagnose … --error-log -` (runtime prefixes are stripped)' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l access-log -d 'Access log to read (default: the one that serves the site)' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l kernel-log -d 'Kernel log file (dmesg, kern.log) to search for OOM kills' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l journal -d 'Output of `journalctl -u UNIT` for the app' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l unit-status -d 'Output of `systemctl show UNIT` for the app' -r -F
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l since -d 'How far back to read logs. Durations, here and in every option: a number and a unit, ms, s, m, h or d (500ms, 90s, 15m, 1.5h, 1d); a bare number is seconds' -r
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l timeout -d 'Timeout of each probe and external command, e.g. 3s, 500ms' -r
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l lb-idle-timeout -d 'Idle timeout of the load balancer in front of nginx (AWS ALB: 60s by default), compared with nginx\'s keepalive_timeout' -r
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l deadline -d 'Deadline of the whole run; the report then shows what was gathered and marks the rest `unavailable: deadline` (default: 5 × --timeout + 2s)' -r
complete -c badgw -n "__fish_badgw_using_subcommand collect" -l color -d 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c badgw -n "__fish_badgw_using_subcommand collect" -s h -l help -d 'Print help'
complete -c badgw -n "__fish_badgw_using_subcommand collect" -s V -l version -d 'Print version'
complete -c badgw -n "__fish_badgw_using_subcommand explain-log" -l since -d 'Only lines at or after this time: a duration back from the log\'s end, or from now for gzip and stdin (500ms, 90s, 15m, 1.5h, 1d; a bare number is seconds), or a time in the log\'s clock (2026-11-22T10:00, "2026-11-22 10:00:00", 2026/11/22 10:00:00, 2026-11-22)' -r
complete -c badgw -n "__fish_badgw_using_subcommand explain-log" -l until -d 'Only lines before this time (same forms as --since)' -r
complete -c badgw -n "__fish_badgw_using_subcommand explain-log" -l top -d 'How many upstreams and servers to list per category' -r
complete -c badgw -n "__fish_badgw_using_subcommand explain-log" -l color -d 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c badgw -n "__fish_badgw_using_subcommand explain-log" -l json -d 'Print the summary as JSON (schema: docs/json.md)'
complete -c badgw -n "__fish_badgw_using_subcommand explain-log" -l events -d 'Also list every classified line (with its 1-based line number)'
complete -c badgw -n "__fish_badgw_using_subcommand explain-log" -s h -l help -d 'Print help'
complete -c badgw -n "__fish_badgw_using_subcommand explain-log" -s V -l version -d 'Print version'
complete -c badgw -n "__fish_badgw_using_subcommand explain" -l color -d 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c badgw -n "__fish_badgw_using_subcommand explain" -s h -l help -d 'Print help'
complete -c badgw -n "__fish_badgw_using_subcommand explain" -s V -l version -d 'Print version'
complete -c badgw -n "__fish_badgw_using_subcommand completions" -l color -d 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c badgw -n "__fish_badgw_using_subcommand completions" -s h -l help -d 'Print help'
complete -c badgw -n "__fish_badgw_using_subcommand completions" -s V -l version -d 'Print version'
complete -c badgw -n "__fish_badgw_using_subcommand help; and not __fish_seen_subcommand_from diagnose route collect explain-log explain completions help" -f -a "diagnose" -d 'Find why nginx answers 502/504 for a site: ranked root causes with evidence and fixes'
complete -c badgw -n "__fish_badgw_using_subcommand help; and not __fish_seen_subcommand_from diagnose route collect explain-log explain completions help" -f -a "route" -d 'Show which server block, location and upstream serve a request, by nginx\'s rules'
complete -c badgw -n "__fish_badgw_using_subcommand help; and not __fish_seen_subcommand_from diagnose route collect explain-log explain completions help" -f -a "collect" -d 'Write the gathered facts as a JSON snapshot to stdout (analyze later with `diagnose --from`)'
complete -c badgw -n "__fish_badgw_using_subcommand help; and not __fish_seen_subcommand_from diagnose route collect explain-log explain completions help" -f -a "explain-log" -d 'Classify every upstream failure in nginx error logs and summarize them'
complete -c badgw -n "__fish_badgw_using_subcommand help; and not __fish_seen_subcommand_from diagnose route collect explain-log explain completions help" -f -a "explain" -d 'Print the documentation of a cause id (e.g. `badgw explain upstream-down`)'
complete -c badgw -n "__fish_badgw_using_subcommand help; and not __fish_seen_subcommand_from diagnose route collect explain-log explain completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c badgw -n "__fish_badgw_using_subcommand help; and not __fish_seen_subcommand_from diagnose route collect explain-log explain completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
