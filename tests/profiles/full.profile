# full: hides nothing, refuses nothing. SoftHSM 2.6 as it is, reached through the shim, so a test
# can show that the shim alone changes nothing in hsmctl's flow.
