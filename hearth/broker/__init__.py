"""The MQTT broker's security: identities (one per home's hub, in the registry), the password
and ACL files Mosquitto reads, and the local CA for TLS. See docs/security.md."""
