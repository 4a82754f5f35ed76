"""Email: the outbound request mail (`outbound`) and the approve/reject links it carries (`links`)."""
