"""Least-privilege IAM for Session Manager (docs/access.md).

- `policy`: the identity-based policy `ssmctl access policy` prints;
- `validate`: a structural check of any policy document (ours or hand-written);
- `check`: can a principal start a session on a target (IAM SimulatePrincipalPolicy),
  and why.
"""
