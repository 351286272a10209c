
use builtin;
use str;

set edit:completion:arg-completer[badgw] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'badgw'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'badgw'= {
            cand --color 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand diagnose 'Find why nginx answers 502/504 for a site: ranked root causes with evidence and fixes'
            cand route 'Show which server block, location and upstream serve a request, by nginx''s rules'
            cand collect 'Write the gathered facts as a JSON snapshot to stdout (analyze later with `diagnose --from`)'
            cand explain-log 'Classify every upstream failure in nginx error logs and summarize them'
            cand explain 'Print the documentation of a cause id (e.g. `badgw explain upstream-down`)'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'badgw;diagnose'= {
            cand --site 'Host name the clients use, e.g. shop.example.com'
            cand --path 'Request path to route, e.g. /api/orders'
            cand --port 'Port the client connects to nginx on (default: every port nginx listens on)'
            cand --url 'A full URL, standing for --site, --port and --path together'
            cand --nginx-conf 'Main nginx configuration file (default: from the running master, `nginx -V`, or the usual paths)'
            cand --nginx-dump 'Output of `nginx -T` to read the configuration from'
            cand --from 'Analyze a snapshot written by `badgw collect`; never touches this host'
            cand --error-log 'Error log to read (default: the one that serves the site); `-` reads standard input, e.g. `docker logs NAME 2>&1 | badgw diagnose … --error-log -` (runtime prefixes are stripped)'
            cand --access-log 'Access log to read (default: the one that serves the site)'
            cand --kernel-log 'Kernel log file (dmesg, kern.log) to search for OOM kills'
            cand --journal 'Output of `journalctl -u UNIT` for the app'
            cand --unit-status 'Output of `systemctl show UNIT` for the app'
            cand --since 'How far back to read logs. Durations, here and in every option: a number and a unit, ms, s, m, h or d (500ms, 90s, 15m, 1.5h, 1d); a bare number is seconds'
            cand --timeout 'Timeout of each probe and external command, e.g. 3s, 500ms'
            cand --lb-idle-timeout 'Idle timeout of the load balancer in front of nginx (AWS ALB: 60s by default), compared with nginx''s keepalive_timeout'
            cand --deadline 'Deadline of the whole run; the report then shows what was gathered and marks the rest `unavailable: deadline` (default: 5 × --timeout + 2s)'
            cand --color 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never'
            cand --json 'Print the report as JSON (schema: docs/json.md)'
            cand -v 'Show every check, every evidence line and the timeouts table (the default report fits one screen; it is always complete when the diagnosis is incomplete)'
            cand --verbose 'Show every check, every evidence line and the timeouts table (the default report fits one screen; it is always complete when the diagnosis is incomplete)'
            cand --fix 'After the report, offer the leading cause''s fixes one at a time (what runs, a diff of each edited file, [y/N]); back up, test, reload, then check the site answers again. Needs a terminal, or --yes'
            cand --yes 'With --fix: apply without asking (for scripts)'
            cand --dry-run 'With --fix: print the plan (commands and diffs) and change nothing'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'badgw;route'= {
            cand --site 'Host name the clients use, e.g. shop.example.com'
            cand --path 'Request path to route, e.g. /api/orders'
            cand --port 'Port the client connects to nginx on (default: every port nginx listens on)'
            cand --url 'A full URL, standing for --site, --port and --path together'
            cand --nginx-conf 'Main nginx configuration file (default: from the running master, `nginx -V`, or the usual paths)'
            cand --nginx-dump 'Output of `nginx -T` to read the configuration from'
            cand --from 'Analyze a snapshot written by `badgw collect`; never touches this host'
            cand --color 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never'
            cand --json 'Print the route as JSON (schema: docs/json.md)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'badgw;collect'= {
            cand --site 'Host name the clients use, e.g. shop.example.com'
            cand --path 'Request path to route, e.g. /api/orders'
            cand --port 'Port the client connects to nginx on (default: every port nginx listens on)'
            cand --url 'A full URL, standing for --site, --port and --path together'
            cand --nginx-conf 'Main nginx configuration file (default: from the running master, `nginx -V`, or the usual paths)'
            cand --nginx-dump 'Output of `nginx -T` to read the configuration from'
            cand --from 'Analyze a snapshot written by `badgw collect`; never touches this host'
            cand --error-log 'Error log to read (default: the one that serves the site); `-` reads standard input, e.g. `docker logs NAME 2>&1 | badgw diagnose … --error-log -` (runtime prefixes are stripped)'
            cand --access-log 'Access log to read (default: the one that serves the site)'
            cand --kernel-log 'Kernel log file (dmesg, kern.log) to search for OOM kills'
            cand --journal 'Output of `journalctl -u UNIT` for the app'
            cand --unit-status 'Output of `systemctl show UNIT` for the app'
            cand --since 'How far back to read logs. Durations, here and in every option: a number and a unit, ms, s, m, h or d (500ms, 90s, 15m, 1.5h, 1d); a bare number is seconds'
            cand --timeout 'Timeout of each probe and external command, e.g. 3s, 500ms'
            cand --lb-idle-timeout 'Idle timeout of the load balancer in front of nginx (AWS ALB: 60s by default), compared with nginx''s keepalive_timeout'
            cand --deadline 'Deadline of the whole run; the report then shows what was gathered and marks the rest `unavailable: deadline` (default: 5 × --timeout + 2s)'
            cand --color 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'badgw;explain-log'= {
            cand --since 'Only lines at or after this time: a duration back from the log''s end, or from now for gzip and stdin (500ms, 90s, 15m, 1.5h, 1d; a bare number is seconds), or a time in the log''s clock (2026-11-22T10:00, "2026-11-22 10:00:00", 2026/11/22 10:00:00, 2026-11-22)'
            cand --until 'Only lines before this time (same forms as --since)'
            cand --top 'How many upstreams and servers to list per category'
            cand --color 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never'
            cand --json 'Print the summary as JSON (schema: docs/json.md)'
            cand --events 'Also list every classified line (with its 1-based line number)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'badgw;explain'= {
            cand --color 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'badgw;completions'= {
            cand --color 'When to use colors: auto (a terminal, and NO_COLOR unset), always, never'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'badgw;help'= {
            cand diagnose 'Find why nginx answers 502/504 for a site: ranked root causes with evidence and fixes'
            cand route 'Show which server block, location and upstream serve a request, by nginx''s rules'
            cand collect 'Write the gathered facts as a JSON snapshot to stdout (analyze later with `diagnose --from`)'
            cand explain-log 'Classify every upstream failure in nginx error logs and summarize them'
            cand explain 'Print the documentation of a cause id (e.g. `badgw explain upstream-down`)'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'badgw;help;diagnose'= {
        }
        &'badgw;help;route'= {
        }
        &'badgw;help;collect'= {
        }
        &'badgw;help;explain-log'= {
        }
        &'badgw;help;explain'= {
        }
        &'badgw;help;completions'= {
        }
        &'badgw;help;help'= {
        }
    ]
    $completions[$command]
}
