"""Trust: what may go out on the owner's behalf (docs/architecture.md, "Trust").

`normalize` reads a text every way it could be disguised; `guards` holds what an automatic reply
may never carry; `facts` finds private facts loosely; `vault` fills shared facts after the checks;
`verdict` puts them together with the policy, for the draft job and for `trust_eval` alike.
"""
