//! Commands about a load balancer in front of nginx. Its settings live in the cloud's
//! control plane, not on this host: they are printed as advice (a `#` line naming the
//! command for a machine where that CLI is configured), never as a command for here.

/// How to read an AWS load balancer's idle timeout (its ARN is not known to badgw).
pub fn aws_idle_timeout() -> String {
    "# where the AWS CLI is configured: aws elbv2 describe-load-balancer-attributes --load-balancer-arn ARN --query \"Attributes[?Key=='idle_timeout.timeout_seconds']\"".into()
}
