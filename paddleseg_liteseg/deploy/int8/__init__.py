"""int8: quantizing the exported model on real images, choosing each runtime's file, keeping layers fp32 where it must."""
